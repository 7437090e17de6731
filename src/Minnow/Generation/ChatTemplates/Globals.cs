namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// The global functions every template sees: Jinja2's <c>range</c> (with the sandbox's 100,000-item cap), <c>dict</c>,
/// <c>namespace</c>, <c>joiner</c>, and the two Hugging Face adds, <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
internal static class Globals
{
    /// <summary>Jinja's sandbox refuses ranges longer than this.</summary>
    private const long MaxRange = 100_000;

    public static Scope Create()
    {
        var scope = new Scope(null);
        Add(scope, "range", Range);
        Add(scope, "dict", (_, a) => Dict(a));
        Add(scope, "namespace", (_, a) =>
        {
            var ns = new Namespace();
            foreach (var (key, value) in Dict(a).Pairs)
                ns.Attributes.Set(key, value);
            return ns;
        });
        Add(scope, "joiner", (_, a) =>
        {
            string separator = Py.Str(a.Get(0, "sep", ", "));
            bool used = false;
            return new BuiltinFunction("joiner", (_, _) =>
            {
                bool first = !used;
                used = true;
                return first ? "" : separator;
            });
        });
        Add(scope, "raise_exception", (_, a) =>
            throw new TemplateError(ChatTemplateErrorKind.Raised, Py.Str(a.Get(0, "message"))));
        Add(scope, "strftime_now", (_, a) => Strftime.Format(DateTime.Now, Py.Str(a.Get(0, "format"))));
        foreach (var name in new[] { "cycler", "lipsum" })
            Add(scope, name, (_, _) => throw TemplateError.Unsupported($"the '{name}' global"));
        return scope;
    }

    private static void Add(Scope scope, string name, Func<Evaluator, Arguments, object?> body) =>
        scope.Set(name, new BuiltinFunction(name, body));

    private static object? Range(Evaluator ev, Arguments a)
    {
        if (a.Keywords.Count > 0 || a.Count is 0 or > 3)
            throw TemplateError.Runtime($"range expected 1 to 3 arguments, got {a.Count}");
        var numbers = a.Positional.Select(v => Py.IsInteger(v, out long l)
            ? l
            : throw TemplateError.Runtime($"'{Py.TypeName(v)}' object cannot be interpreted as an integer")).ToArray();
        var range = numbers.Length switch
        {
            1 => new PyRange(0, numbers[0], 1),
            2 => new PyRange(numbers[0], numbers[1], 1),
            _ => numbers[2] == 0 ? throw TemplateError.Runtime("range() arg 3 must not be zero") : new PyRange(numbers[0], numbers[1], numbers[2]),
        };
        if (range.Length > MaxRange)
            throw new TemplateError(ChatTemplateErrorKind.LimitExceeded, $"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        return range;
    }

    /// <summary>Python's <c>dict(mapping_or_pairs, **kwargs)</c>.</summary>
    private static PyDict Dict(Arguments a)
    {
        var dict = new PyDict();
        if (a.Count > 1)
            throw TemplateError.Runtime($"dict expected at most 1 argument, got {a.Count}");
        if (a.Count == 1)
        {
            if (a.Positional[0] is PyDict source)
                foreach (var (key, value) in source.Pairs)
                    dict.Set(key, value);
            else
                foreach (var pair in Py.Iterate(a.Positional[0]))
                {
                    var items = Py.Iterate(pair).ToList();
                    if (items.Count != 2)
                        throw TemplateError.Runtime("dictionary update sequence element has the wrong length; 2 is required");
                    dict.Set(items[0], items[1]);
                }
        }
        foreach (var (key, value) in a.Keywords)
            dict.Set(key, value);
        return dict;
    }
}
