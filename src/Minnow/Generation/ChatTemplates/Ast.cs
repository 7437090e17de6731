namespace Minnow.Generation.ChatTemplates;

// The syntax tree. Every node remembers the source offset it came from, so runtime errors can name line and column.

internal abstract class Node(int offset)
{
    public int Offset { get; } = offset;
}

internal abstract class Expr(int offset) : Node(offset);

internal sealed class ConstExpr(int offset, object? value) : Expr(offset) { public object? Value { get; } = value; }
internal sealed class NameExpr(int offset, string name) : Expr(offset) { public string Name { get; } = name; }
internal sealed class ListExpr(int offset, List<Expr> items) : Expr(offset) { public List<Expr> Items { get; } = items; }
internal sealed class TupleExpr(int offset, List<Expr> items) : Expr(offset) { public List<Expr> Items { get; } = items; }
internal sealed class DictExpr(int offset, List<(Expr Key, Expr Value)> pairs) : Expr(offset) { public List<(Expr Key, Expr Value)> Pairs { get; } = pairs; }

/// <summary><c>obj.name</c>: attribute first, then item.</summary>
internal sealed class GetAttrExpr(int offset, Expr target, string name) : Expr(offset)
{
    public Expr Target { get; } = target;
    public string Name { get; } = name;
}

/// <summary><c>obj[key]</c>: item first, then attribute.</summary>
internal sealed class GetItemExpr(int offset, Expr target, Expr key) : Expr(offset)
{
    public Expr Target { get; } = target;
    public Expr Key { get; } = key;
}

internal sealed class SliceExpr(int offset, Expr? start, Expr? stop, Expr? step) : Expr(offset)
{
    public Expr? Start { get; } = start;
    public Expr? Stop { get; } = stop;
    public Expr? Step { get; } = step;
}

/// <summary>Positional and keyword argument expressions of a call, filter or test.</summary>
internal sealed record CallArgs(List<Expr> Positional, List<(string Name, Expr Value)> Keywords)
{
    /// <summary>Shared by every call without arguments; never modified.</summary>
    public static readonly CallArgs None = new([], []);
}

internal sealed class CallExpr(int offset, Expr callee, CallArgs args) : Expr(offset)
{
    public Expr Callee { get; } = callee;
    public CallArgs Args { get; } = args;
}

/// <summary><c>value | name(args)</c>; <see cref="Value"/> is null in <c>{% filter %}</c> and <c>{% set x | f %}</c>, where the body is the input.</summary>
internal sealed class FilterExpr(int offset, Expr? value, string name, CallArgs args) : Expr(offset)
{
    public Expr? Value { get; } = value;
    public string Name { get; } = name;
    public CallArgs Args { get; } = args;
}

internal sealed class TestExpr(int offset, Expr value, string name, CallArgs args) : Expr(offset)
{
    public Expr Value { get; } = value;
    public string Name { get; } = name;
    public CallArgs Args { get; } = args;
}

/// <summary><c>-x</c>, <c>+x</c>, <c>not x</c>.</summary>
internal sealed class UnaryExpr(int offset, string op, Expr operand) : Expr(offset)
{
    public string Op { get; } = op;
    public Expr Operand { get; } = operand;
}

/// <summary>Arithmetic (<c>+ - * / // % **</c>), <c>~</c>, and the short-circuit <c>and</c>/<c>or</c> (which return an operand, as in Python).</summary>
internal sealed class BinaryExpr(int offset, string op, Expr left, Expr right) : Expr(offset)
{
    public string Op { get; } = op;
    public Expr Left { get; } = left;
    public Expr Right { get; } = right;
}

/// <summary>A comparison chain <c>a &lt; b &lt;= c</c> (also <c>in</c>, <c>not in</c>), evaluated pairwise as in Python.</summary>
internal sealed class CompareExpr(int offset, Expr first, List<(string Op, Expr Operand)> rest) : Expr(offset)
{
    public Expr First { get; } = first;
    public List<(string Op, Expr Operand)> Rest { get; } = rest;
}

/// <summary><c>a if test else b</c>; without <c>else</c> the false case is Undefined.</summary>
internal sealed class CondExpr(int offset, Expr test, Expr then, Expr? otherwise) : Expr(offset)
{
    public Expr Test { get; } = test;
    public Expr Then { get; } = then;
    public Expr? Otherwise { get; } = otherwise;
}

/// <summary>What <c>set</c>, <c>for</c> and <c>with</c> assign to: a name, a tuple of targets, or <c>namespace.attr</c>.</summary>
internal abstract record Target;
internal sealed record NameTarget(string Name) : Target;
internal sealed record TupleTarget(List<Target> Items) : Target;
internal sealed record NamespaceTarget(string Namespace, string Attribute) : Target;

internal abstract class Stmt(int offset) : Node(offset);

internal sealed class TextStmt(int offset, string text) : Stmt(offset) { public string Text { get; } = text; }
internal sealed class OutputStmt(int offset, Expr value) : Stmt(offset) { public Expr Value { get; } = value; }

internal sealed class IfStmt(int offset, List<(Expr Test, List<Stmt> Body)> branches, List<Stmt> otherwise) : Stmt(offset)
{
    public List<(Expr Test, List<Stmt> Body)> Branches { get; } = branches;
    public List<Stmt> Otherwise { get; } = otherwise;
}

internal sealed class ForStmt(int offset, Target target, Expr iterable, Expr? filter, bool recursive, List<Stmt> body, List<Stmt> otherwise) : Stmt(offset)
{
    public Target Target { get; } = target;
    public Expr Iterable { get; } = iterable;
    public Expr? Filter { get; } = filter;
    public bool Recursive { get; } = recursive;
    public List<Stmt> Body { get; } = body;
    public List<Stmt> Otherwise { get; } = otherwise;
}

internal sealed class SetStmt(int offset, Target target, Expr value) : Stmt(offset)
{
    public Target Target { get; } = target;
    public Expr Value { get; } = value;
}

/// <summary><c>{% set x %}…{% endset %}</c>, optionally through filters (<c>{% set x | trim %}</c>).</summary>
internal sealed class SetBlockStmt(int offset, Target target, FilterExpr? filter, List<Stmt> body) : Stmt(offset)
{
    public Target Target { get; } = target;
    public FilterExpr? Filter { get; } = filter;
    public List<Stmt> Body { get; } = body;
}

internal sealed record Parameter(string Name, Expr? Default);

/// <summary>A macro's signature and which of Jinja's implicit parameters its body mentions: extra positional arguments are
/// only accepted when it reads <c>varargs</c>, unknown keywords when it reads <c>kwargs</c>, a call block when it reads <c>caller</c>.</summary>
internal sealed record MacroSignature(string Name, List<Parameter> Parameters, bool UsesVarargs, bool UsesKwargs, bool UsesCaller);

internal sealed class MacroStmt(int offset, MacroSignature signature, List<Stmt> body) : Stmt(offset)
{
    public MacroSignature Signature { get; } = signature;
    public List<Stmt> Body { get; } = body;
}

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: calls the macro with the body available as <c>caller(...)</c>.</summary>
internal sealed class CallBlockStmt(int offset, CallExpr call, MacroSignature caller, List<Stmt> body) : Stmt(offset)
{
    public CallExpr Call { get; } = call;
    public MacroSignature Caller { get; } = caller;
    public List<Stmt> Body { get; } = body;
}

internal sealed class FilterBlockStmt(int offset, FilterExpr filter, List<Stmt> body) : Stmt(offset)
{
    public FilterExpr Filter { get; } = filter;
    public List<Stmt> Body { get; } = body;
}

/// <summary><c>{% with a = 1 %}</c> (a new scope), and HF's <c>{% generation %}</c> (renders its body unchanged).</summary>
internal sealed class ScopeStmt(int offset, List<(Target Target, Expr Value)> assignments, List<Stmt> body) : Stmt(offset)
{
    public List<(Target Target, Expr Value)> Assignments { get; } = assignments;
    public List<Stmt> Body { get; } = body;
}

internal sealed class LoopControlStmt(int offset, bool isBreak) : Stmt(offset) { public bool IsBreak { get; } = isBreak; }
