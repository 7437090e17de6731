namespace Minnow.Generation.ChatTemplates;

/// <summary>Jinja2's built-in tests (<c>x is defined</c>, <c>x is string</c>, <c>n is divisibleby 3</c>…).</summary>
internal static class TestFunctions
{
    private delegate bool Test(Evaluator ev, object? value, Arguments args);

    private static readonly Dictionary<string, Test> All = new()
    {
        ["boolean"] = (_, v, _) => v is bool,
        ["callable"] = (_, v, _) => v is ICallable or Undefined,
        ["defined"] = (_, v, _) => v is not Undefined,
        ["divisibleby"] = (ev, v, a) => !Py.IsTruthy(Py.Binary(ev, "%", v, a.Get(0, "num"))),
        ["escaped"] = (_, v, _) => v is Markup,
        ["even"] = (ev, v, _) => Py.AreEqual(Py.Binary(ev, "%", v, 2L), 0L),
        ["false"] = (_, v, _) => v is false,
        ["filter"] = (_, v, _) => Py.IsString(v, out var name) && Filters.Exists(name),
        ["float"] = (_, v, _) => v is double,
        ["in"] = (_, v, a) => Py.Contains(a.Get(0, "seq"), v),
        ["integer"] = (_, v, _) => v is long,
        ["iterable"] = (_, v, _) => v is string or Markup or List<object?> or object?[] or PyDict or Undefined or PyRange or DictView or PyIterator,
        ["lower"] = (_, v, _) => Py.Str(v) is var s && s.Any(char.IsLower) && !s.Any(char.IsUpper),
        ["mapping"] = (_, v, _) => v is PyDict,
        ["none"] = (_, v, _) => v is null,
        ["number"] = (_, v, _) => Py.IsNumber(v),
        ["odd"] = (ev, v, _) => Py.AreEqual(Py.Binary(ev, "%", v, 2L), 1L),
        ["sameas"] = (_, v, a) => SameAs(v, a.Get(0, "other")),
        ["sequence"] = (_, v, _) => v is string or Markup or List<object?> or object?[] or PyDict or Undefined or PyRange,
        ["string"] = (_, v, _) => v is string or Markup,
        ["test"] = (_, v, _) => Py.IsString(v, out var name) && Exists(name),
        ["true"] = (_, v, _) => v is true,
        ["undefined"] = (_, v, _) => v is Undefined,
        ["upper"] = (_, v, _) => Py.Str(v) is var s && s.Any(char.IsUpper) && !s.Any(char.IsLower),
    };

    static TestFunctions()
    {
        foreach (var (op, names) in new[]
                 {
                     ("==", new[] { "eq", "equalto", "==" }), ("!=", ["ne", "!="]), ("<", ["lt", "lessthan", "<"]),
                     ("<=", ["le", "<="]), (">", ["gt", "greaterthan", ">"]), (">=", ["ge", ">="]),
                 })
            foreach (var name in names)
                All[name] = (_, v, a) => Py.Compare(op, v, a.Get(0, "other"));
    }

    /// <summary>Every Jinja2 built-in test is implemented, so an unknown name is simply unknown.</summary>
    public static bool Exists(string name) => All.ContainsKey(name);

    public static bool Apply(Evaluator ev, string name, object? value, Arguments args) => All[name](ev, value, args);

    /// <summary>Python's <c>is</c>: identity, which for None, booleans and (cached) small integers is equality.</summary>
    private static bool SameAs(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (bool x, bool y) => x == y,
        (long x, long y) => x == y,
        _ => ReferenceEquals(a, b),
    };
}
