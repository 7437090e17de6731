using System.Globalization;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>A Python slice (<c>x[start:stop:step]</c>); null parts are omitted bounds.</summary>
internal sealed record PySlice(object? Start, object? Stop, object? Step);

/// <summary>Python semantics on the interpreter's values: truthiness, equality, ordering, arithmetic, str/repr, iteration, lookups.</summary>
internal static partial class Py
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        Markup => "Markup",
        List<object?> => "list",
        object?[] => "tuple",
        PyDict => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        PyRange => "range",
        DictView view => view.TypeName,
        PyIterator it => it.TypeName,
        PySlice => "slice",
        LoopContext => "LoopContext",
        Macro => "Macro",
        ICallable => "builtin_function_or_method",
        _ => v.GetType().Name,
    };

    /// <summary>How Jinja names an object in "has no attribute" messages ("'dict object'", "'None'").</summary>
    public static string ObjectTypeRepr(object? v) => v switch
    {
        null => "None",
        Namespace => "jinja2.utils.Namespace object",
        LoopContext => "jinja2.runtime.LoopContext object",
        Macro => "jinja2.runtime.Macro object",
        _ => TypeName(v) + " object",
    };

    public static bool IsTruthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        Markup m => m.Value.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        PyDict d => d.Count > 0,
        Undefined => false,
        PyRange r => r.Length > 0,
        DictView view => view.Dict.Count > 0,
        _ => true,
    };

    public static bool IsString(object? v, out string s)
    {
        switch (v)
        {
            case string str: s = str; return true;
            case Markup m: s = m.Value; return true;
            default: s = ""; return false;
        }
    }

    /// <summary>bool and int are both Python ints.</summary>
    public static bool IsInteger(object? v, out long value)
    {
        switch (v)
        {
            case long l: value = l; return true;
            case bool b: value = b ? 1 : 0; return true;
            default: value = 0; return false;
        }
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException("not a number"),
    };

    public static bool AreEqual(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
            return true;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        if (IsString(a, out var sa) && IsString(b, out var sb))
            return sa == sb;
        switch (a, b)
        {
            case (List<object?> la, List<object?> lb):
                return SequenceEqual(la, lb);
            case (object?[] ta, object?[] tb):
                return SequenceEqual(ta, tb);
            case (PyDict da, PyDict db):
                if (da.Count != db.Count)
                    return false;
                foreach (var (key, value) in da.Pairs)
                    if (!db.TryGet(key, out var other) || !AreEqual(value, other))
                        return false;
                return true;
            case (Undefined, Undefined):
                return true;
            case (PyRange ra, PyRange rb):
                return ra.Length == rb.Length && (ra.Length == 0 || (ra.Start == rb.Start && (ra.Length == 1 || ra.Step == rb.Step)));
            default:
                return false;
        }
    }

    private static long ToLong(object? v) => v is bool b ? (b ? 1 : 0) : (long)v!;

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count)
            return false;
        for (int i = 0; i < a.Count; i++)
            if (!AreEqual(a[i], b[i]))
                return false;
        return true;
    }

    /// <summary>Python's ordering (&lt;, &lt;=, &gt;, &gt;=) of numbers, strings, lists and tuples; other pairs are a TypeError.</summary>
    public static int Order(object? a, object? b, string op)
    {
        if (a is Undefined ua)
            throw ua.Error();
        if (b is Undefined ub)
            throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                double x = ToDouble(a), y = ToDouble(b);
                if (double.IsNaN(x) || double.IsNaN(y))
                    return op is "<" or "<=" ? 1 : -1; // every ordering with NaN is false
                return x.CompareTo(y);
            }
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (IsString(a, out var sa) && IsString(b, out var sb))
            return PyText.Compare(sa, sb);
        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var la = (IReadOnlyList<object?>)a;
            var lb = (IReadOnlyList<object?>)b;
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!AreEqual(la[i], lb[i]))
                    return Order(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        throw TemplateError.Runtime($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => AreEqual(a, b),
        "!=" => !AreEqual(a, b),
        "<" => Order(a, b, op) < 0,
        "<=" => Order(a, b, op) <= 0,
        ">" => Order(a, b, op) > 0,
        ">=" => Order(a, b, op) >= 0,
        "in" => Contains(b, a),
        "notin" => !Contains(b, a),
        _ => throw new InvalidOperationException(op),
    };

    /// <summary>Python's <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string or Markup:
                IsString(container, out var s);
                if (!IsString(item, out var needle))
                    throw TemplateError.Runtime($"'in <string>' requires string as left operand, not {TypeName(item)}");
                return s.Contains(needle, StringComparison.Ordinal);
            case PyDict d:
                return d.ContainsKey(item);
            case Namespace or LoopContext or ICallable or null or bool or long or double:
                throw TemplateError.Runtime($"argument of type '{TypeName(container)}' is not iterable");
            default:
                foreach (var x in Iterate(container))
                    if (AreEqual(x, item))
                        return true;
                return false;
        }
    }

    /// <summary>Python's <c>iter()</c>: lists, tuples, strings (code points), dict keys, ranges, views, one-shot iterators; Undefined is empty.</summary>
    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        string s => PyText.HasSurrogates(s) ? PyText.CodePoints(s) : s.Select(c => (object?)c.ToString()),
        Markup m => Iterate(m.Value),
        PyDict d => d.Keys,
        Undefined => [],
        PyRange r => r.Items(),
        DictView view => view.Items(),
        PyIterator it => it.Consume(),
        _ => throw TemplateError.Runtime($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>Python's <c>len()</c> (Undefined has length 0, as in Jinja).</summary>
    public static long Length(object? v) => v switch
    {
        string s => PyText.Length(s),
        Markup m => PyText.Length(m.Value),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        PyDict d => d.Count,
        Undefined => 0,
        PyRange r => r.Length,
        DictView view => view.Dict.Count,
        _ => throw TemplateError.Runtime($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>Python's <c>str()</c>, which is what <c>{{ value }}</c> prints (Undefined prints nothing).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Markup m => m.Value,
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        switch (v)
        {
            case null: return "None";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return PyText.FloatRepr(d);
            case string s: return PyText.Repr(s);
            case Markup m: return "Markup(" + PyText.Repr(m.Value) + ")";
            case List<object?> l: return "[" + string.Join(", ", l.Select(Repr)) + "]";
            case object?[] t: return t.Length == 1 ? "(" + Repr(t[0]) + ",)" : "(" + string.Join(", ", t.Select(Repr)) + ")";
            case PyDict d: return DictRepr(d);
            case Undefined: return "Undefined";
            case Namespace ns: return "<Namespace " + DictRepr(ns.Attributes) + ">";
            case PyRange r: return r.ToString();
            case DictView view: return view.TypeName + "([" + string.Join(", ", view.Items().Select(Repr)) + "])";
            case PyIterator it: return $"<{it.TypeName} object>";
            case PySlice s: return $"slice({Repr(s.Start)}, {Repr(s.Stop)}, {Repr(s.Step)})";
            case LoopContext loop: return $"<LoopContext {loop.Index0 + 1}/{loop.Length}>";
            case Macro macro: return $"<Macro '{macro.Name}'>";
            case BoundMethod method: return $"<built-in method {method.Name} of {TypeName(method.Receiver)} object>";
            case ICallable f: return $"<built-in function {f.Name}>";
            default: return v.ToString() ?? "";
        }
    }

    private static string DictRepr(PyDict d) =>
        "{" + string.Join(", ", d.Pairs.Select(p => Repr(p.Key) + ": " + Repr(p.Value))) + "}";

    /// <summary>
    /// <c>obj.name</c> as Jinja's sandbox does it: the Python attribute (a method, a loop property…) first, then the item
    /// <c>obj["name"]</c>, else Undefined. Attribute access on Undefined is an error.
    /// </summary>
    public static object? GetAttr(object? obj, string name)
    {
        if (obj is Undefined u)
            throw u.Error();
        if (TryGetAttribute(obj, name, out var value))
            return value;
        if (TryGetItem(obj, name, out value))
            return value;
        return Undefined.Member(obj, name);
    }

    /// <summary><c>obj[a:b:c]</c>: Jinja compiles slices to plain Python subscripts, so slicing what is not a sequence is an error, not Undefined.</summary>
    public static object? Slice(object? obj, PySlice slice)
    {
        if (obj is Undefined u)
            throw u.Error();
        if (obj is not PyDict && TryGetItem(obj, slice, out var value))
            return value;
        throw TemplateError.Runtime(obj is PyDict ? "unhashable type: 'slice'" : $"'{TypeName(obj)}' object is not subscriptable");
    }

    /// <summary><c>obj[key]</c> as Jinja's sandbox does it: the item first, then (for string keys) the attribute, else Undefined.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        if (obj is Undefined u)
            throw u.Error();
        if (TryGetItem(obj, key, out var value))
            return value;
        if (IsString(key, out var name) && TryGetAttribute(obj, name, out value))
            return value;
        return Undefined.Member(obj, key);
    }

    /// <summary>Only the Python attribute (what the |attr filter reads), never the item.</summary>
    public static object? GetAttribute(object? obj, string name)
    {
        if (obj is Undefined u)
            throw u.Error();
        return TryGetAttribute(obj, name, out var value) ? value : Undefined.Member(obj, name);
    }

    private static bool TryGetAttribute(object? obj, string name, out object? value)
    {
        value = null;
        switch (obj)
        {
            case Namespace ns:
                return ns.Attributes.TryGet(name, out value);
            case LoopContext loop:
                return loop.TryGetAttribute(name, out value);
        }
        if (obj is null || !Methods.Exists(obj, name))
            return false;
        value = Methods.IsMutating(obj, name)
            ? Undefined.WithHint($"access to attribute '{name}' of '{TypeName(obj)}' object is unsafe.")
            : new BoundMethod(obj, name);
        return true;
    }

    /// <summary>Python's <c>obj[key]</c>; false where Python raises TypeError, KeyError or IndexError (Jinja turns those into Undefined).</summary>
    private static bool TryGetItem(object? obj, object? key, out object? value)
    {
        value = null;
        switch (obj)
        {
            case PyDict d:
                if (key is List<object?> or PyDict or PySlice)
                    return false;
                return d.TryGet(key, out value);
            case List<object?> l:
                return TryIndex(l, key, out value, items => items.ToList());
            case object?[] t:
                return TryIndex(t, key, out value, items => items.ToArray());
            case string or Markup:
                IsString(obj, out var s);
                if (!PyText.HasSurrogates(s) && IsInteger(key, out long i))
                {
                    if (i < 0)
                        i += s.Length;
                    if (i < 0 || i >= s.Length)
                        return false;
                    value = s[(int)i].ToString();
                    return true;
                }
                return TryIndex(PyText.CodePoints(s), key, out value, items => string.Concat(items));
            case PyRange r:
                if (!IsInteger(key, out long index))
                    return false;
                if (index < 0)
                    index += r.Length;
                if (index < 0 || index >= r.Length)
                    return false;
                value = r[index];
                return true;
            default:
                return false;
        }
    }

    private static bool TryIndex<T>(IReadOnlyList<T> items, object? key, out object? value, Func<IEnumerable<T>, object> rebuild)
    {
        value = null;
        if (key is PySlice slice)
        {
            var (start, step, count) = SliceIndices(slice, items.Count);
            var picked = new List<T>((int)count);
            for (long k = 0, at = start; k < count; k++, at += step)
                picked.Add(items[(int)at]);
            value = rebuild(picked);
            return true;
        }
        if (!IsInteger(key, out long i))
            return false;
        if (i < 0)
            i += items.Count;
        if (i < 0 || i >= items.Count)
            return false;
        value = items[(int)i];
        return true;
    }

    /// <summary>Python's <c>slice.indices(length)</c>: first index, step and number of items.</summary>
    public static (long Start, long Step, long Count) SliceIndices(PySlice slice, long length)
    {
        long step = SliceBound(slice.Step) ?? 1;
        if (step == 0)
            throw TemplateError.Runtime("slice step cannot be zero");
        long lower = step < 0 ? -1 : 0, upper = step < 0 ? length - 1 : length;
        long start = Clamp(SliceBound(slice.Start), step < 0 ? upper : lower);
        long stop = Clamp(SliceBound(slice.Stop), step < 0 ? lower : upper);
        long count = step > 0 ? (stop > start ? (stop - start - 1) / step + 1 : 0) : (start > stop ? (start - stop - 1) / -step + 1 : 0);
        return (start, step, count);

        long Clamp(long? bound, long fallback)
        {
            if (bound is not long b)
                return fallback;
            if (b < 0)
                return Math.Max(b + length, lower);
            return Math.Min(b, upper);
        }
    }

    private static long? SliceBound(object? v) => v switch
    {
        null => null,
        _ when IsInteger(v, out long l) => l,
        _ => throw TemplateError.Runtime("slice indices must be integers or None or have an __index__ method"),
    };

    /// <summary>Joins values the way Jinja's <c>~</c> does: str() of each, Undefined as "".</summary>
    public static string Concat(Evaluator ev, object? a, object? b)
    {
        string left = Str(a), right = Str(b);
        ev.ChargeSize(left.Length + (long)right.Length);
        return string.Concat(left, right);
    }

    /// <summary>HTML escaping as markupsafe does it (used by |escape and when a plain string meets a Markup string).</summary>
    public static string HtmlEscape(string s)
    {
        if (s.AsSpan().IndexOfAny("&<>\"'") < 0)
            return s;
        var sb = new StringBuilder(s.Length + 16);
        foreach (char c in s)
            sb.Append(c switch { '&' => "&amp;", '<' => "&lt;", '>' => "&gt;", '"' => "&#34;", '\'' => "&#39;", _ => c.ToString() });
        return sb.ToString();
    }
}
