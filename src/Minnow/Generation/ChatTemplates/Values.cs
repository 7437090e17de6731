namespace Minnow.Generation.ChatTemplates;

// The interpreter models Python values with plain CLR objects, so templates see what Jinja2 would see:
//   None → null, bool, int → long, float → double, str → string (Markup for |safe strings),
//   list → List<object?>, tuple → object?[], dict → PyDict, plus the Jinja/Python objects below.

/// <summary>Jinja2's default <c>Undefined</c>: renders as "", is falsy and iterates as empty; arithmetic, calls and attribute access on it fail.</summary>
internal sealed class Undefined
{
    private readonly string? _name;
    private readonly object? _owner;
    private readonly bool _hasOwner;
    private readonly string? _hint;

    private Undefined(string? name, object? owner, bool hasOwner, string? hint)
    {
        _name = name;
        _owner = owner;
        _hasOwner = hasOwner;
        _hint = hint;
    }

    /// <summary>A variable that was never defined.</summary>
    public static Undefined Variable(string name) => new(name, null, false, null);

    /// <summary>A failed attribute or item lookup on <paramref name="owner"/>.</summary>
    public static Undefined Member(object? owner, object? key) =>
        new(key is string s ? s : Py.Repr(key), owner, true, key is string ? null : $"{Py.ObjectTypeRepr(owner)} has no element {Py.Repr(key)}");

    /// <summary>An undefined value with a fixed explanation (an empty sequence's first item, an unsafe attribute…).</summary>
    public static Undefined WithHint(string hint) => new(null, null, false, hint);

    public string Message =>
        _hint ?? (_hasOwner ? $"'{Py.ObjectTypeRepr(_owner)}' has no attribute '{_name}'" : $"'{_name}' is undefined");

    public TemplateError Error() => TemplateError.Runtime(Message);
}

/// <summary>A string marked safe (<c>|safe</c>, <c>|escape</c>): like markupsafe's Markup, adding a plain string to it HTML-escapes that string.</summary>
internal sealed class Markup(string value)
{
    public string Value { get; } = value;
    public override string ToString() => Value;
}

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class PyDict
{
    // OrderedDictionary cannot hold a null key, so None is stored as this stand-in.
    private static readonly object NoneKey = new();

    private readonly OrderedDictionary<object, object?> _items = new(PyKeyComparer.Instance);

    public int Count => _items.Count;
    public IEnumerable<object?> Keys => _items.Keys.Select(Public);
    public IEnumerable<object?> Values => _items.Values;
    public IEnumerable<KeyValuePair<object?, object?>> Pairs => _items.Select(p => new KeyValuePair<object?, object?>(Public(p.Key), p.Value));

    private static object? Public(object key) => ReferenceEquals(key, NoneKey) ? null : key;
    private static object Stored(object? key) => key is null ? NoneKey : PyKeyComparer.Normalize(key);

    public bool TryGet(object? key, out object? value) => _items.TryGetValue(Stored(key), out value);

    public bool ContainsKey(object? key) => _items.ContainsKey(Stored(key));

    /// <summary>Sets a key; like Python, an equal key already present keeps its original form and position.</summary>
    public void Set(object? key, object? value)
    {
        key = Stored(key);
        if (_items.TryGetValue(key, out _))
            _items[key] = value;
        else
            _items.Add(key, value);
    }
}

/// <summary>Python hashing and equality for dict keys; lists and dicts are unhashable.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public static object Normalize(object key) => key switch
    {
        Markup m => m.Value,
        List<object?> or PyDict => throw TemplateError.Runtime($"unhashable type: '{Py.TypeName(key)}'"),
        _ => key,
    };

    public new bool Equals(object? x, object? y) => Py.AreEqual(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        string s => string.GetHashCode(s, StringComparison.Ordinal),
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9.2e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        object?[] t => t.Aggregate(17, (h, item) => h * 31 + (item is null ? 0 : GetHashCode(item))),
        _ => obj.GetHashCode(),
    };
}

/// <summary>The object <c>namespace(...)</c> returns: the one value templates may assign attributes to from inside loops.</summary>
internal sealed class Namespace
{
    public PyDict Attributes { get; } = new();
}

/// <summary>Python's lazy <c>range</c>.</summary>
internal sealed class PyRange(long start, long stop, long step)
{
    public long Start { get; } = start;
    public long Stop { get; } = stop;
    public long Step { get; } = step;

    public long Length => Step > 0
        ? (Stop > Start ? (Stop - Start - 1) / Step + 1 : 0)
        : (Start > Stop ? (Start - Stop - 1) / -Step + 1 : 0);

    public long this[long index] => Start + index * Step;

    public IEnumerable<object?> Items()
    {
        for (long i = 0, n = Length; i < n; i++)
            yield return this[i];
    }

    public override string ToString() => Step == 1 ? $"range({Start}, {Stop})" : $"range({Start}, {Stop}, {Step})";
}

internal enum DictViewKind { Keys, Values, Items }

/// <summary><c>dict.keys()</c>, <c>.values()</c>, <c>.items()</c>: live views that can be iterated many times and have a length.</summary>
internal sealed class DictView(PyDict dict, DictViewKind kind)
{
    public PyDict Dict { get; } = dict;
    public DictViewKind Kind { get; } = kind;

    public IEnumerable<object?> Items() => Kind switch
    {
        DictViewKind.Keys => Dict.Keys,
        DictViewKind.Values => Dict.Values,
        _ => Dict.Pairs.Select(p => (object?)new object?[] { p.Key, p.Value }),
    };

    public string TypeName => Kind switch { DictViewKind.Keys => "dict_keys", DictViewKind.Values => "dict_values", _ => "dict_items" };
}

/// <summary>
/// A one-shot Python iterator or generator (what <c>|select</c>, <c>|map</c>, <c>|items</c>, <c>|reverse</c> return):
/// always truthy, has no length, and is exhausted after one pass, exactly as in Jinja2.
/// </summary>
internal sealed class PyIterator(IEnumerable<object?> source, string typeName)
{
    private IEnumerator<object?>? _enumerator = source.GetEnumerator();
    public string TypeName { get; } = typeName;

    public IEnumerable<object?> Consume()
    {
        var e = _enumerator;
        _enumerator = null;
        if (e is null)
            yield break;
        using (e)
            while (e.MoveNext())
                yield return e.Current;
    }
}

/// <summary>Arguments of a call, filter or test: positional values then keyword values.</summary>
internal sealed class Arguments(List<object?> positional, List<KeyValuePair<string, object?>> keywords)
{
    /// <summary>Shared by every call without arguments; never modified.</summary>
    public static readonly Arguments Empty = new([], []);

    public List<object?> Positional { get; } = positional;
    public List<KeyValuePair<string, object?>> Keywords { get; } = keywords;
    public int Count => Positional.Count;

    /// <summary>The argument a Python signature would bind at <paramref name="position"/> or by <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int position, string name, object? fallback = null)
    {
        if (position >= 0 && position < Positional.Count)
            return Positional[position];
        foreach (var (key, value) in Keywords)
            if (key == name)
                return value;
        return fallback;
    }

    public bool Has(int position, string name) =>
        (position >= 0 && position < Positional.Count) || Keywords.Exists(k => k.Key == name);

    /// <summary>Rejects positional arguments past <paramref name="max"/> and keywords not in <paramref name="names"/>, naming <paramref name="callee"/>.</summary>
    public Arguments Check(string callee, int max, params string[] names)
    {
        if (Positional.Count > max)
            throw TemplateError.Runtime($"{callee}() takes at most {max} positional argument(s) ({Positional.Count} given)");
        foreach (var (key, _) in Keywords)
            if (Array.IndexOf(names, key) < 0)
                throw TemplateError.Runtime($"{callee}() got an unexpected keyword argument '{key}'");
        return this;
    }
}

/// <summary>Anything a template can call: global functions, bound methods, macros, <c>loop</c> of a recursive for.</summary>
internal interface ICallable
{
    string Name { get; }
    object? Call(Evaluator evaluator, Arguments args);
}

internal sealed class BuiltinFunction(string name, Func<Evaluator, Arguments, object?> body) : ICallable
{
    public string Name { get; } = name;
    public object? Call(Evaluator evaluator, Arguments args) => body(evaluator, args);
}

/// <summary>A method looked up on a value (<c>content.strip</c>) and called later.</summary>
internal sealed class BoundMethod(object receiver, string name) : ICallable
{
    public object Receiver { get; } = receiver;
    public string Name { get; } = name;
    public object? Call(Evaluator evaluator, Arguments args) => Methods.Call(evaluator, Receiver, Name, args);
}
