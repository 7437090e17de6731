using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// The Python methods templates call on strings, dicts, lists and tuples (<c>content.strip()</c>, <c>message.get('x')</c>…).
/// As in Jinja's ImmutableSandboxedEnvironment, methods that would modify a list or dict exist but are unsafe to call.
/// </summary>
internal static class Methods
{
    private static readonly HashSet<string> StrMethods =
    [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map", "index",
        "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace",
        "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix", "removesuffix",
        "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
        "swapcase", "title", "translate", "upper", "zfill",
    ];

    private static readonly HashSet<string> DictMethods = ["clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"];
    private static readonly HashSet<string> DictMutating = ["clear", "pop", "popitem", "setdefault", "update"];
    private static readonly HashSet<string> ListMethods = ["append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"];
    private static readonly HashSet<string> ListMutating = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"];
    private static readonly HashSet<string> TupleMethods = ["count", "index"];

    public static bool Exists(object receiver, string name) => receiver switch
    {
        string or Markup => StrMethods.Contains(name),
        PyDict => DictMethods.Contains(name),
        List<object?> => ListMethods.Contains(name),
        object?[] => TupleMethods.Contains(name),
        _ => false,
    };

    public static bool IsMutating(object receiver, string name) => receiver switch
    {
        PyDict => DictMutating.Contains(name),
        List<object?> => ListMutating.Contains(name),
        _ => false,
    };

    public static object? Call(Evaluator ev, object receiver, string name, Arguments args) => receiver switch
    {
        string s => CallStr(ev, s, name, args),
        Markup m => CallStr(ev, m.Value, name, args),
        PyDict d => CallDict(d, name, args),
        List<object?> or object?[] => CallSequence((IReadOnlyList<object?>)receiver, name, args),
        _ => throw TemplateError.Runtime($"'{Py.TypeName(receiver)}' object has no attribute '{name}'"),
    };

    private static string Text(object? v, string method) =>
        Py.IsString(v, out var s) ? s : throw TemplateError.Runtime($"{method}() argument must be str, not {Py.TypeName(v)}");

    private static string? OptionalText(object? v, string method) => v is null ? null : Text(v, method);

    private static long Integer(object? v, string method) =>
        Py.IsInteger(v, out long l) ? l : throw TemplateError.Runtime($"{method}() argument must be an integer, not {Py.TypeName(v)}");

    private static object? CallStr(Evaluator ev, string s, string name, Arguments a)
    {
        switch (name)
        {
            case "strip": return PyText.Strip(s, OptionalText(a.Get(0, "chars"), name));
            case "lstrip": return PyText.Strip(s, OptionalText(a.Get(0, "chars"), name), right: false);
            case "rstrip": return PyText.Strip(s, OptionalText(a.Get(0, "chars"), name), left: false);
            case "upper": return PyText.Upper(s);
            case "lower" or "casefold": return PyText.Lower(s);
            case "title": return PyText.Title(s);
            case "capitalize": return PyText.Capitalize(s);
            case "swapcase": return string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));
            case "startswith" or "endswith":
                if (a.Count > 1)
                    throw TemplateError.Unsupported($"str.{name}() with start/end arguments");
                var affixes = a.Get(0, "prefix") is object?[] tuple ? tuple.Select(x => Text(x, name)) : [Text(a.Get(0, "prefix"), name)];
                return affixes.Any(x => name == "startswith" ? s.StartsWith(x, StringComparison.Ordinal) : s.EndsWith(x, StringComparison.Ordinal));
            case "split":
                return PyText.Split(s, OptionalText(a.Get(0, "sep"), name), Integer(a.Get(1, "maxsplit", -1L), name));
            case "rsplit":
                return PyText.RSplit(s, OptionalText(a.Get(0, "sep"), name), Integer(a.Get(1, "maxsplit", -1L), name));
            case "splitlines":
                return PyText.SplitLines(s).Select(x => (object?)x).ToList();
            case "replace":
                string replaced = PyText.Replace(s, Text(a.Get(0, "old"), name), Text(a.Get(1, "new"), name), Integer(a.Get(2, "count", -1L), name));
                ev.ChargeSize(replaced.Length);
                return replaced;
            case "find" or "index" or "rfind" or "rindex":
                if (a.Count > 1)
                    throw TemplateError.Unsupported($"str.{name}() with start/end arguments");
                string sub = Text(a.Get(0, "sub"), name);
                int at = name[0] == 'r' ? s.LastIndexOf(sub, StringComparison.Ordinal) : s.IndexOf(sub, StringComparison.Ordinal);
                if (at < 0 && name.EndsWith("index", StringComparison.Ordinal))
                    throw TemplateError.Runtime("substring not found");
                return at < 0 ? -1L : (long)PyText.Length(s[..at]);
            case "count":
                string needle = Text(a.Get(0, "sub"), name);
                if (needle.Length == 0)
                    return PyText.Length(s) + 1L;
                long count = 0;
                for (int i = s.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = s.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
                    count++;
                return count;
            case "join":
                var parts = Py.Iterate(a.Get(0, "iterable")).Select(x => Py.IsString(x, out var p) ? p : throw TemplateError.Runtime($"sequence item: expected str instance, {Py.TypeName(x)} found")).ToList();
                ev.ChargeSize(parts.Sum(p => (double)p.Length));
                return string.Join(s, parts);
            case "format":
                return PyFormat.Format(ev, s, a);
            case "removeprefix":
                string prefix = Text(a.Get(0, "prefix"), name);
                return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
            case "removesuffix":
                string suffix = Text(a.Get(0, "suffix"), name);
                return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
            case "partition" or "rpartition":
                string separator = Text(a.Get(0, "sep"), name);
                int split = name == "partition" ? s.IndexOf(separator, StringComparison.Ordinal) : s.LastIndexOf(separator, StringComparison.Ordinal);
                if (split < 0)
                    return name == "partition" ? new object?[] { s, "", "" } : ["", "", s];
                return new object?[] { s[..split], separator, s[(split + separator.Length)..] };
            case "center" or "ljust" or "rjust" or "zfill":
                return Justify(ev, s, name, a);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isascii": return s.All(char.IsAscii);
            case "isdigit" or "isdecimal" or "isnumeric": return s.Length > 0 && s.All(char.IsDigit);
            case "isspace": return s.Length > 0 && s.All(PyText.IsSpace);
            case "islower": return s.Any(char.IsLower) && !s.Any(char.IsUpper);
            case "isupper": return s.Any(char.IsUpper) && !s.Any(char.IsLower);
            case "istitle": return s.Any(char.IsLetter) && PyText.Title(s) == s;
            default: throw TemplateError.Unsupported($"str.{name}()");
        }
    }

    private static string Justify(Evaluator ev, string s, string name, Arguments a)
    {
        long width = Integer(a.Get(0, "width"), name);
        ev.ChargeSize(width);
        int padding = (int)Math.Max(0, width - PyText.Length(s));
        if (name == "zfill")
        {
            int sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
            return s[..sign] + new string('0', padding) + s[sign..];
        }
        string fill = Text(a.Get(1, "fillchar", " "), name);
        if (PyText.Length(fill) != 1)
            throw TemplateError.Runtime("The fill character must be exactly one character long");
        var sb = new StringBuilder();
        // CPython's str.center splits odd padding by this formula.
        int left = name switch { "ljust" => 0, "rjust" => padding, _ => padding / 2 + (padding & (int)width & 1) };
        for (int i = 0; i < left; i++)
            sb.Append(fill);
        sb.Append(s);
        for (int i = 0; i < padding - left; i++)
            sb.Append(fill);
        return sb.ToString();
    }

    private static object? CallDict(PyDict d, string name, Arguments a)
    {
        switch (name)
        {
            case "items": return new DictView(d, DictViewKind.Items);
            case "keys": return new DictView(d, DictViewKind.Keys);
            case "values": return new DictView(d, DictViewKind.Values);
            case "get": return d.TryGet(a.Get(0, "key"), out var value) ? value : a.Get(1, "default");
            case "copy":
                var copy = new PyDict();
                foreach (var (key, item) in d.Pairs)
                    copy.Set(key, item);
                return copy;
            default:
                throw TemplateError.Unsupported($"dict.{name}()");
        }
    }

    private static object? CallSequence(IReadOnlyList<object?> items, string name, Arguments a)
    {
        switch (name)
        {
            case "count":
                return (long)items.Count(x => Py.AreEqual(x, a.Get(0, "value")));
            case "index":
                for (int i = 0; i < items.Count; i++)
                    if (Py.AreEqual(items[i], a.Get(0, "value")))
                        return (long)i;
                throw TemplateError.Runtime($"{Py.Repr(a.Get(0, "value"))} is not in list");
            case "copy":
                return items.ToList();
            default:
                throw TemplateError.Unsupported($"list.{name}()");
        }
    }
}
