using System.Runtime.CompilerServices;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>Variables visible at one point of a render; <c>for</c> iterations, macro calls and blocks get a child scope, so their <c>set</c>s do not leak out (as in Jinja2).</summary>
internal sealed class Scope(Scope? parent)
{
    private Dictionary<string, object?>? _variables;

    public Scope? Parent { get; } = parent;

    public bool TryLookup(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope._variables is not null && scope._variables.TryGetValue(name, out value))
                return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => (_variables ??= new(StringComparer.Ordinal))[name] = value;
}

/// <summary>
/// Walks the syntax tree and writes the output. Every statement and expression evaluated costs one step, and building
/// long strings or lists costs more, so the <see cref="ChatTemplateLimits"/> bound the total work of any template.
/// </summary>
internal sealed partial class Evaluator
{
    private enum Flow { Normal, Break, Continue }

    private readonly ChatTemplateLimits _limits;
    private Scope _scope;
    private int _depth;
    private int _callDepth;
    private long _written;

    public Evaluator(ChatTemplateLimits limits, Scope scope)
    {
        _limits = limits;
        _scope = scope;
    }

    /// <summary>Evaluation steps used so far.</summary>
    public long Steps { get; private set; }

    public string Render(List<Stmt> body)
    {
        var output = new StringBuilder();
        ExecBody(body, output);
        return output.ToString();
    }

    private void Step()
    {
        if (++Steps > _limits.MaxSteps)
            throw Limit($"rendering took more than {_limits.MaxSteps} steps");
    }

    /// <summary>Accounts for building a string or list of <paramref name="size"/> characters or items before it is built.</summary>
    public void ChargeSize(double size)
    {
        if (size > _limits.MaxOutputLength)
            throw Limit($"a string or list would exceed {_limits.MaxOutputLength} characters or items");
        Steps += (long)size >> 6;
        Step();
    }

    private static TemplateError Limit(string message) => new(ChatTemplateErrorKind.LimitExceeded, message);

    private void Enter()
    {
        if (++_depth > _limits.MaxDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Limit($"the template nests deeper than {_limits.MaxDepth} levels while rendering");
    }

    private void Write(StringBuilder output, string text)
    {
        _written += text.Length;
        if (_written > _limits.MaxOutputLength)
            throw Limit($"the output exceeds {_limits.MaxOutputLength} characters");
        Steps += text.Length >> 6;
        output.Append(text);
    }

    private Flow ExecBody(List<Stmt> body, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = Exec(stmt, output);
            if (flow != Flow.Normal)
                return flow;
        }
        return Flow.Normal;
    }

    /// <summary>Runs <paramref name="body"/> in a child scope and returns what it printed.</summary>
    private string Capture(List<Stmt> body, Scope scope)
    {
        var saved = _scope;
        _scope = scope;
        try
        {
            var output = new StringBuilder();
            ExecBody(body, output);
            return output.ToString();
        }
        finally
        {
            _scope = saved;
        }
    }

    private Flow Exec(Stmt stmt, StringBuilder output)
    {
        Step();
        Enter();
        try
        {
            switch (stmt)
            {
                case TextStmt text:
                    Write(output, text.Text);
                    return Flow.Normal;
                case OutputStmt print:
                    Write(output, Py.Str(Eval(print.Value)));
                    return Flow.Normal;
                case IfStmt conditional:
                    foreach (var (test, body) in conditional.Branches)
                        if (Py.IsTruthy(Eval(test)))
                            return ExecBody(body, output);
                    return ExecBody(conditional.Otherwise, output);
                case ForStmt loop:
                    RunLoop(loop, Eval(loop.Iterable), 0, output);
                    return Flow.Normal;
                case SetStmt set:
                    Assign(set.Target, Eval(set.Value));
                    return Flow.Normal;
                case SetBlockStmt setBlock:
                    object? captured = Capture(setBlock.Body, new Scope(_scope));
                    Assign(setBlock.Target, setBlock.Filter is null ? captured : ApplyFilterChain(setBlock.Filter, captured));
                    return Flow.Normal;
                case MacroStmt macro:
                    _scope.Set(macro.Signature.Name, new Macro(macro.Signature, macro.Body, _scope));
                    return Flow.Normal;
                case CallBlockStmt callBlock:
                    var caller = new Macro(callBlock.Caller, callBlock.Body, _scope);
                    var callee = Eval(callBlock.Call.Callee);
                    var evaluated = EvalArgs(callBlock.Call.Args);
                    var args = new Arguments(evaluated.Positional, [.. evaluated.Keywords, new("caller", caller)]);
                    Write(output, Py.Str(Call(callee, args)));
                    return Flow.Normal;
                case FilterBlockStmt filterBlock:
                    Write(output, Py.Str(ApplyFilterChain(filterBlock.Filter, Capture(filterBlock.Body, new Scope(_scope)))));
                    return Flow.Normal;
                case ScopeStmt scoped:
                    var values = scoped.Assignments.Select(a => Eval(a.Value)).ToList();
                    var outer = _scope;
                    _scope = new Scope(outer);
                    try
                    {
                        for (int i = 0; i < values.Count; i++)
                            Assign(scoped.Assignments[i].Target, values[i]);
                        return ExecBody(scoped.Body, output);
                    }
                    finally
                    {
                        _scope = outer;
                    }
                case LoopControlStmt control:
                    return control.IsBreak ? Flow.Break : Flow.Continue;
                default:
                    throw new InvalidOperationException(stmt.GetType().Name);
            }
        }
        catch (TemplateError e) when (e.Offset < 0)
        {
            e.Offset = stmt.Offset;
            throw;
        }
        finally
        {
            _depth--;
        }
    }

    private void Assign(Target target, object? value)
    {
        switch (target)
        {
            case NameTarget name:
                _scope.Set(name.Name, value);
                break;
            case TupleTarget tuple:
                var items = Py.Iterate(value).Take(tuple.Items.Count + 1).ToList();
                if (items.Count != tuple.Items.Count)
                    throw TemplateError.Runtime(items.Count > tuple.Items.Count
                        ? $"too many values to unpack (expected {tuple.Items.Count})"
                        : $"not enough values to unpack (expected {tuple.Items.Count}, got {items.Count})");
                for (int i = 0; i < items.Count; i++)
                    Assign(tuple.Items[i], items[i]);
                break;
            case NamespaceTarget attribute:
                if (Lookup(attribute.Namespace) is not Namespace ns)
                    throw TemplateError.Runtime("cannot assign attribute on non-namespace object");
                ns.Attributes.Set(attribute.Attribute, value);
                break;
        }
    }

    /// <summary>
    /// Runs a for loop over <paramref name="iterable"/>. The items are collected first (after the loop's <c>if</c> filter),
    /// because <c>loop.length</c>, <c>loop.last</c> and <c>loop.revindex</c> need the count, and the filter applies before counting.
    /// </summary>
    private void RunLoop(ForStmt loop, object? iterable, int depth, StringBuilder output)
    {
        var outer = _scope;
        var items = new List<object?>();
        try
        {
            foreach (var item in Py.Iterate(iterable))
            {
                Step();
                if (loop.Filter is not null)
                {
                    _scope = new Scope(outer);
                    Assign(loop.Target, item);
                    bool keep = Py.IsTruthy(Eval(loop.Filter));
                    _scope = outer;
                    if (!keep)
                        continue;
                }
                items.Add(item);
            }
            var context = new LoopContext(items, depth, loop.Recursive ? (next, nextDepth) => RecurseLoop(loop, outer, next, nextDepth) : null);
            for (int i = 0; i < items.Count; i++)
            {
                Step();
                context.Index0 = i;
                _scope = new Scope(outer);
                _scope.Set("loop", context);
                Assign(loop.Target, items[i]);
                if (ExecBody(loop.Body, output) == Flow.Break)
                    break;
            }
            if (items.Count == 0 && loop.Otherwise.Count > 0)
            {
                _scope = new Scope(outer);
                ExecBody(loop.Otherwise, output);
            }
        }
        finally
        {
            _scope = outer;
        }
    }

    /// <summary><c>loop(children)</c> inside a <c>recursive</c> loop: renders the same loop over new items, one level deeper.</summary>
    private string RecurseLoop(ForStmt loop, Scope scope, object? iterable, int depth)
    {
        EnterCall();
        var saved = _scope;
        _scope = scope;
        try
        {
            var output = new StringBuilder();
            RunLoop(loop, iterable, depth, output);
            return output.ToString();
        }
        finally
        {
            _scope = saved;
            _callDepth--;
        }
    }

    private void EnterCall()
    {
        if (++_callDepth > _limits.MaxCallDepth)
            throw Limit($"macro calls nest deeper than {_limits.MaxCallDepth} levels");
    }

    /// <summary>Calls a macro: binds parameters (defaults are evaluated at call time, in the macro's scope), then renders the body.</summary>
    public string CallMacro(Macro macro, Arguments args)
    {
        EnterCall();
        try
        {
            var scope = new Scope(macro.Closure);
            var saved = _scope;
            _scope = scope;
            try
            {
                var signature = macro.Signature;
                if (args.Count > signature.Parameters.Count && !signature.UsesVarargs)
                    throw TemplateError.Runtime($"macro '{signature.Name}' takes not more than {signature.Parameters.Count} argument(s)");
                var extraKeywords = new PyDict();
                foreach (var (key, value) in args.Keywords)
                {
                    if (key == "caller" && signature.UsesCaller)
                        scope.Set("caller", value);
                    else if (signature.Parameters.Exists(p => p.Name == key))
                        continue;
                    else if (signature.UsesKwargs)
                        extraKeywords.Set(key, value);
                    else
                        throw TemplateError.Runtime($"macro '{signature.Name}' takes no keyword argument '{key}'");
                }
                for (int i = 0; i < signature.Parameters.Count; i++)
                {
                    var parameter = signature.Parameters[i];
                    object? value = args.Has(i, parameter.Name)
                        ? args.Get(i, parameter.Name)
                        : parameter.Default is not null ? Eval(parameter.Default) : Undefined.WithHint($"parameter '{parameter.Name}' was not provided");
                    scope.Set(parameter.Name, value);
                }
                scope.Set("varargs", args.Positional.Skip(signature.Parameters.Count).ToArray());
                scope.Set("kwargs", extraKeywords);
            }
            finally
            {
                _scope = saved;
            }
            return Capture(macro.Body, scope);
        }
        finally
        {
            _callDepth--;
        }
    }

    private object? Lookup(string name) => _scope.TryLookup(name, out var value) ? value : Undefined.Variable(name);

    /// <summary>Applies a filter chain whose innermost input is a block's rendered body.</summary>
    private object? ApplyFilterChain(FilterExpr filter, object? input)
    {
        if (filter.Value is FilterExpr inner)
            input = ApplyFilterChain(inner, input);
        try
        {
            return Filters.Apply(this, filter.Name, input, EvalArgs(filter.Args));
        }
        catch (TemplateError e) when (e.Offset < 0)
        {
            e.Offset = filter.Offset;
            throw;
        }
    }
}

/// <summary>A macro (or the body of a <c>{% call %}</c> block, as <c>caller</c>); it sees the scope it was defined in.</summary>
internal sealed class Macro(MacroSignature signature, List<Stmt> body, Scope closure) : ICallable
{
    public MacroSignature Signature { get; } = signature;
    public string Name => Signature.Name;
    public List<Stmt> Body { get; } = body;
    public Scope Closure { get; } = closure;

    public object? Call(Evaluator evaluator, Arguments args) => evaluator.CallMacro(this, args);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopContext(List<object?> items, int depth0, Func<object?, int, string>? recurse) : ICallable
{
    private object? _lastChanged = Undefined.WithHint("no previous value");

    public int Index0 { get; set; }
    public int Length => items.Count;
    public string Name => "loop";

    public bool TryGetAttribute(string name, out object? value)
    {
        value = name switch
        {
            "index0" => (long)Index0,
            "index" => (long)Index0 + 1,
            "revindex" => (long)(Length - Index0),
            "revindex0" => (long)(Length - Index0 - 1),
            "first" => Index0 == 0,
            "last" => Index0 == Length - 1,
            "length" => (long)Length,
            "depth0" => (long)depth0,
            "depth" => (long)depth0 + 1,
            "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.WithHint("there is no previous item"),
            "nextitem" => Index0 + 1 < Length ? items[Index0 + 1] : Undefined.WithHint("there is no next item"),
            "cycle" => new BuiltinFunction("cycle", (_, args) => args.Count == 0
                ? throw TemplateError.Runtime("no items for cycling given")
                : args.Positional[Index0 % args.Count]),
            "changed" => new BuiltinFunction("changed", (_, args) =>
            {
                object? current = args.Positional.ToArray();
                if (Py.AreEqual(current, _lastChanged))
                    return false;
                _lastChanged = current;
                return true;
            }),
            _ => this,
        };
        return !ReferenceEquals(value, this);
    }

    public object? Call(Evaluator evaluator, Arguments args) => recurse is null
        ? throw TemplateError.Runtime("The loop must be defined as 'recursive' to be called recursively.")
        : recurse(args.Get(0, "iterable"), depth0 + 1);
}
