using System.Globalization;
using System.Numerics;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>Jinja2's built-in filters, with Hugging Face's <c>tojson</c> (json.dumps with ensure_ascii=False).</summary>
internal static class Filters
{
    private delegate object? Filter(Evaluator ev, object? value, Arguments args);

    private static readonly Dictionary<string, Filter> All = new()
    {
        ["abs"] = (_, v, _) => v switch
        {
            long l => (object)checked(Math.Abs(l)),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            _ => throw TemplateError.Runtime($"bad operand type for abs(): '{Py.TypeName(v)}'"),
        },
        ["attr"] = (_, v, a) => Py.GetAttribute(v, Py.Str(a.Get(0, "name"))),
        ["batch"] = Batch,
        ["capitalize"] = (_, v, _) => PyText.Capitalize(Py.Str(v)),
        ["center"] = (ev, v, a) => Methods.Call(ev, Py.Str(v), "center", new Arguments([a.Get(0, "width", 80L)], [])),
        ["count"] = (_, v, _) => Py.Length(v),
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["escape"] = (_, v, _) => v is Markup ? v : new Markup(Py.HtmlEscape(Py.Str(v))),
        ["e"] = (_, v, _) => v is Markup ? v : new Markup(Py.HtmlEscape(Py.Str(v))),
        ["first"] = (_, v, _) => Py.Iterate(v).Take(1).ToList() is [var x] ? x : Undefined.WithHint("No first item, sequence was empty."),
        ["float"] = (_, v, a) => ToFloat(v) ?? a.Get(0, "default", 0.0),
        ["forceescape"] = (_, v, _) => new Markup(Py.HtmlEscape(Py.Str(v))),
        ["format"] = (ev, v, a) => a.Count > 0 && a.Keywords.Count > 0
            ? throw TemplateError.Runtime("can't handle positional and keyword arguments at the same time")
            : PyFormat.Percent(ev, Py.Str(v), a.Keywords.Count > 0 ? KeywordDict(a) : a.Positional.ToArray()),
        ["indent"] = Indent,
        ["int"] = ToInt,
        ["items"] = (_, v, _) => v switch
        {
            Undefined => new PyIterator([], "generator"),
            PyDict d => new PyIterator(new DictView(d, DictViewKind.Items).Items(), "dict_itemiterator"),
            _ => throw TemplateError.Runtime("Can only get item pairs from a mapping."),
        },
        ["join"] = Join,
        ["last"] = (_, v, _) => Reversed(v) is { } items && items.Take(1).ToList() is [var x] ? x : Undefined.WithHint("No last item, sequence was empty."),
        ["length"] = (_, v, _) => Py.Length(v),
        ["list"] = (_, v, _) => Py.Iterate(v).ToList(),
        ["lower"] = (_, v, _) => PyText.Lower(Py.Str(v)),
        ["map"] = Map,
        ["max"] = (_, v, a) => MinOrMax(v, a, wantMax: true),
        ["min"] = (_, v, a) => MinOrMax(v, a, wantMax: false),
        ["reject"] = (ev, v, a) => SelectOrReject(ev, v, a, attribute: false, keep: false),
        ["rejectattr"] = (ev, v, a) => SelectOrReject(ev, v, a, attribute: true, keep: false),
        ["replace"] = (ev, v, a) =>
        {
            string result = PyText.Replace(Py.Str(v), Py.Str(a.Get(0, "old")), Py.Str(a.Get(1, "new")), a.Get(2, "count") is { } c && Py.IsInteger(c, out long n) ? n : -1);
            ev.ChargeSize(result.Length);
            return result;
        },
        ["reverse"] = (_, v, _) => Py.IsString(v, out var s)
            ? string.Concat(Enumerable.Reverse(PyText.CodePoints(s)))
            : Reversed(v) is { } items ? new PyIterator(items, "list_reverseiterator") : Py.Iterate(v).Reverse().ToList(),
        ["round"] = Round,
        ["safe"] = (_, v, _) => v is Markup ? v : new Markup(Py.Str(v)),
        ["select"] = (ev, v, a) => SelectOrReject(ev, v, a, attribute: false, keep: true),
        ["selectattr"] = (ev, v, a) => SelectOrReject(ev, v, a, attribute: true, keep: true),
        ["sort"] = Sort,
        ["string"] = (_, v, _) => v is Markup ? v : Py.Str(v),
        ["sum"] = (ev, v, a) =>
        {
            object? total = a.Get(1, "start", 0L);
            var getter = a.Get(0, "attribute") is { } attribute ? AttributeGetter(attribute) : null;
            foreach (var item in Py.Iterate(v))
                total = Py.Binary(ev, "+", total, getter is null ? item : getter(item));
            return total;
        },
        ["title"] = (_, v, _) => TitleWords(Py.Str(v)),
        ["tojson"] = ToJson,
        ["trim"] = (_, v, a) => PyText.Strip(Py.Str(v), a.Get(0, "chars") is { } chars ? Py.Str(chars) : null),
        ["truncate"] = Truncate,
        ["unique"] = Unique,
        ["upper"] = (_, v, _) => PyText.Upper(Py.Str(v)),
        ["wordcount"] = (_, v, _) => (long)WordCount(Py.Str(v)),
    };

    // Jinja2 filters Minnow does not implement: named as unsupported rather than unknown.
    private static readonly HashSet<string> Unimplemented =
        ["filesizeformat", "groupby", "pprint", "random", "slice", "striptags", "urlencode", "urlize", "wordwrap", "xmlattr"];

    public static bool Exists(string name) => All.ContainsKey(name);
    public static bool IsJinjaBuiltin(string name) => Unimplemented.Contains(name);

    public static object? Apply(Evaluator ev, string name, object? value, Arguments args) => All[name](ev, value, args);

    private static PyDict KeywordDict(Arguments a)
    {
        var dict = new PyDict();
        foreach (var (key, value) in a.Keywords)
            dict.Set(key, value);
        return dict;
    }

    private static object? Default(Evaluator ev, object? value, Arguments a) =>
        value is Undefined || (Py.IsTruthy(a.Get(1, "boolean", false)) && !Py.IsTruthy(value)) ? a.Get(0, "default_value", "") : value;

    /// <summary>Python's <c>reversed()</c>, or null where it raises TypeError (one-shot iterators).</summary>
    private static IEnumerable<object?>? Reversed(object? v) => v switch
    {
        PyIterator => null,
        _ => Py.Iterate(v).Reverse(),
    };

    /// <summary>Jinja's attribute getter for map/selectattr/sort…: "a.b.0" looks up items (then attributes) part by part.</summary>
    private static Func<object?, object?> AttributeGetter(object? attribute, object? fallback = null)
    {
        var parts = Py.IsString(attribute, out var path)
            ? path.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? (object?)i : p).ToArray()
            : [attribute];
        return item =>
        {
            foreach (var part in parts)
                item = Py.GetItem(item, part);
            return fallback is not null && item is Undefined ? fallback : item;
        };
    }

    private static object? SortKey(object? v, bool caseSensitive) =>
        !caseSensitive && Py.IsString(v, out var s) ? PyText.Lower(s) : v;

    /// <summary>A key for <c>sort</c>/<c>unique</c>/<c>min</c>/<c>max</c>; "a,b" compares by a tuple of attributes.</summary>
    private static Func<object?, object?> KeyGetter(object? attribute, bool caseSensitive)
    {
        if (attribute is null)
            return item => SortKey(item, caseSensitive);
        if (Py.IsString(attribute, out var names) && names.Contains(','))
        {
            var getters = names.Split(',').Select(n => AttributeGetter(n)).ToArray();
            return item => getters.Select(g => SortKey(g(item), caseSensitive)).ToArray();
        }
        var getter = AttributeGetter(attribute);
        return item => SortKey(getter(item), caseSensitive);
    }

    private static readonly Comparer<object?> PyOrder = Comparer<object?>.Create((a, b) => Py.Order(a, b, "<"));

    /// <summary>Python's <c>sorted</c>: stable, also when reversed; a TypeError comparing keys surfaces as the template error it is.</summary>
    private static List<object?> StableSort(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        try
        {
            return (reverse ? items.OrderByDescending(key, PyOrder) : items.OrderBy(key, PyOrder)).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is TemplateError inner)
        {
            throw inner;
        }
    }

    private static object? Sort(Evaluator ev, object? value, Arguments a)
    {
        a.Check("sort", 3, "reverse", "case_sensitive", "attribute");
        var key = KeyGetter(a.Get(2, "attribute"), Py.IsTruthy(a.Get(1, "case_sensitive", false)));
        var items = Py.Iterate(value).ToList();
        ev.ChargeSize(items.Count * Math.Log2(items.Count + 2));
        return StableSort(items, key, Py.IsTruthy(a.Get(0, "reverse", false)));
    }

    private static object? DictSort(Evaluator ev, object? value, Arguments a)
    {
        if (value is not PyDict dict)
            throw TemplateError.Runtime("dictsort filter needs a mapping");
        bool caseSensitive = Py.IsTruthy(a.Get(0, "case_sensitive", false));
        int position = Py.Str(a.Get(1, "by", "key")) switch
        {
            "key" => 0,
            "value" => 1,
            _ => throw TemplateError.Runtime("You can only sort by either \"key\" or \"value\""),
        };
        var pairs = dict.Pairs.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList();
        ev.ChargeSize(pairs.Count * Math.Log2(pairs.Count + 2));
        return StableSort(pairs, p => SortKey(((object?[])p!)[position], caseSensitive), Py.IsTruthy(a.Get(2, "reverse", false)));
    }

    private static object? Unique(Evaluator ev, object? value, Arguments a)
    {
        var key = KeyGetter(a.Get(1, "attribute"), Py.IsTruthy(a.Get(0, "case_sensitive", false)));
        return new PyIterator(Distinct(), "generator");

        IEnumerable<object?> Distinct()
        {
            var seen = new List<object?>();
            foreach (var item in Py.Iterate(value))
            {
                var k = key(item);
                if (seen.Exists(s => Py.AreEqual(s, k)))
                    continue;
                seen.Add(k);
                yield return item;
            }
        }
    }

    private static object? MinOrMax(object? value, Arguments a, bool wantMax)
    {
        var key = KeyGetter(a.Get(1, "attribute"), Py.IsTruthy(a.Get(0, "case_sensitive", false)));
        bool any = false;
        object? best = null, bestKey = null;
        foreach (var item in Py.Iterate(value))
        {
            var k = key(item);
            if (!any || (wantMax ? Py.Order(k, bestKey, ">") > 0 : Py.Order(k, bestKey, "<") < 0))
                (best, bestKey, any) = (item, k, true);
        }
        return any ? best : Undefined.WithHint("No aggregated item, sequence was empty.");
    }

    private static object? Join(Evaluator ev, object? value, Arguments a)
    {
        string separator = Py.Str(a.Get(0, "d", ""));
        var getter = a.Get(1, "attribute") is { } attribute ? AttributeGetter(attribute) : null;
        var sb = new StringBuilder();
        bool first = true;
        foreach (var item in Py.Iterate(value))
        {
            if (!first)
                sb.Append(separator);
            first = false;
            sb.Append(Py.Str(getter is null ? item : getter(item)));
            ev.ChargeSize(sb.Length);
        }
        return sb.ToString();
    }

    private static object? Map(Evaluator ev, object? value, Arguments a)
    {
        Func<object?, object?> transform;
        if (a.Count == 0 && a.Has(-1, "attribute"))
        {
            a.Check("map", 0, "attribute", "default");
            transform = AttributeGetter(a.Get(-1, "attribute"), a.Get(-1, "default"));
        }
        else
        {
            string name = a.Count > 0 ? Py.Str(a.Positional[0]) : throw TemplateError.Runtime("map requires a filter argument");
            if (!All.TryGetValue(name, out var filter))
                throw TemplateError.Runtime($"No filter named '{name}'.");
            var rest = new Arguments(a.Positional.Skip(1).ToList(), a.Keywords);
            transform = item => filter(ev, item, rest);
        }
        return new PyIterator(Py.IsTruthy(value) ? Py.Iterate(value).Select(transform) : [], "generator");
    }

    private static object? SelectOrReject(Evaluator ev, object? value, Arguments a, bool attribute, bool keep)
    {
        Func<object?, object?> get = item => item;
        int offset = 0;
        if (attribute)
        {
            if (a.Count == 0)
                throw TemplateError.Runtime("Missing parameter for attribute name");
            get = AttributeGetter(a.Positional[0]);
            offset = 1;
        }
        Func<object?, bool> test = Py.IsTruthy;
        if (a.Count > offset)
        {
            string name = Py.Str(a.Positional[offset]);
            if (!TestFunctions.Exists(name))
                throw TemplateError.Runtime($"No test named '{name}'.");
            var rest = new Arguments(a.Positional.Skip(offset + 1).ToList(), a.Keywords);
            test = item => TestFunctions.Apply(ev, name, item, rest);
        }
        return new PyIterator(Py.IsTruthy(value) ? Py.Iterate(value).Where(item => test(get(item)) == keep) : [], "generator");
    }

    private static object? Batch(Evaluator ev, object? value, Arguments a)
    {
        if (!Py.IsInteger(a.Get(0, "linecount"), out long size) || size <= 0)
            throw TemplateError.Runtime("batch needs a positive line count");
        bool fill = a.Has(1, "fill_with");
        var filler = a.Get(1, "fill_with");
        return new PyIterator(Batches(), "generator");

        IEnumerable<object?> Batches()
        {
            var current = new List<object?>();
            foreach (var item in Py.Iterate(value))
            {
                if (current.Count == size)
                {
                    yield return current;
                    current = [];
                }
                current.Add(item);
            }
            if (current.Count > 0)
            {
                while (fill && current.Count < size)
                    current.Add(filler);
                yield return current;
            }
        }
    }

    private static object? ToJson(Evaluator ev, object? value, Arguments a)
    {
        a.Check("tojson", 4, "ensure_ascii", "indent", "separators", "sort_keys");
        string? indent = a.Get(1, "indent") switch
        {
            null => null,
            string s => s,
            var n when Py.IsInteger(n, out long width) => new string(' ', (int)Math.Clamp(width, 0, 1000)),
            var other => throw TemplateError.Runtime($"indent must be an int or a str, not {Py.TypeName(other)}"),
        };
        string? itemSeparator = null, keySeparator = null;
        if (a.Get(2, "separators") is { } separators)
        {
            var pair = Py.Iterate(separators).ToList();
            if (pair.Count != 2 || !Py.IsString(pair[0], out var item) || !Py.IsString(pair[1], out var key))
                throw TemplateError.Runtime("separators must be a pair of strings");
            (itemSeparator, keySeparator) = (item, key);
        }
        return Json.Dumps(ev, value, Py.IsTruthy(a.Get(0, "ensure_ascii", false)), indent, itemSeparator, keySeparator, Py.IsTruthy(a.Get(3, "sort_keys", false)));
    }

    private static object? Indent(Evaluator ev, object? value, Arguments a)
    {
        if (!Py.IsString(value, out var text))
            throw TemplateError.Runtime($"unsupported operand type(s) for +=: '{Py.TypeName(value)}' and 'str'");
        var width = a.Get(0, "width", 4L);
        string indentation = Py.IsString(width, out var w) ? w : new string(' ', (int)Math.Clamp(Py.IsInteger(width, out long n) ? n : 4, 0, 1000));
        bool first = Py.IsTruthy(a.Get(1, "first", false)), blank = Py.IsTruthy(a.Get(2, "blank", false));
        // Jinja appends a newline before splitting so a trailing newline survives.
        var lines = PyText.SplitLines(text + "\n");
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Count; i++)
        {
            if (i > 0)
                sb.Append('\n');
            if ((i > 0 || first) && (blank || lines[i].Length > 0 || (i == 0 && first)))
                sb.Append(indentation);
            sb.Append(lines[i]);
        }
        ev.ChargeSize(sb.Length);
        return sb.ToString();
    }

    private static object? ToInt(Evaluator ev, object? value, Arguments a)
    {
        var fallback = a.Get(0, "default", 0L);
        long radix = Py.IsInteger(a.Get(1, "base", 10L), out long b) ? b : 10;
        switch (value)
        {
            case long or bool:
                return Py.IsInteger(value, out long l) ? l : 0L;
            case double d:
                return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case Undefined u:
                throw u.Error();
        }
        if (!Py.IsString(value, out var s))
            return fallback;
        string text = s.Trim().Replace("_", "");
        if (radix is 0 or 16 or 8 or 2 && text.Length > 2 && text[0] == '0' && char.ToLowerInvariant(text[1]) is 'x' or 'o' or 'b')
        {
            int prefixRadix = char.ToLowerInvariant(text[1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            if (radix == 0 || radix == prefixRadix)
                (text, radix) = (text[2..], prefixRadix);
        }
        if (radix == 0)
            radix = 10;
        try
        {
            bool negative = text.StartsWith('-');
            string digits = text.TrimStart('+', '-');
            if (digits.Length > 0 && digits.All(c => char.IsAsciiHexDigit(c) && Convert.ToInt32(c.ToString(), 16) < radix))
            {
                long result = 0;
                foreach (char c in digits)
                    result = checked(result * radix + Convert.ToInt32(c.ToString(), 16));
                return negative ? -result : result;
            }
        }
        catch (OverflowException)
        {
            return fallback;
        }
        // int("4.7") fails in Python, so Jinja retries int(float(value)).
        return ToFloat(value) is double f && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
    }

    private static double? ToFloat(object? value)
    {
        switch (value)
        {
            case double d: return d;
            case long or bool: return Py.ToDouble(value);
            case Undefined u: throw u.Error();
        }
        if (!Py.IsString(value, out var s))
            return null;
        string text = s.Trim().Replace("_", "").ToLowerInvariant();
        switch (text.TrimStart('+', '-'))
        {
            case "inf" or "infinity": return text.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
            case "nan": return double.NaN;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) ? parsed : null;
    }

    private static object? Round(Evaluator ev, object? value, Arguments a)
    {
        if (!Py.IsInteger(a.Get(0, "precision", 0L), out long precision))
            throw TemplateError.Runtime("round precision must be an integer");
        string method = Py.Str(a.Get(1, "method", "common"));
        if (method is not ("common" or "ceil" or "floor"))
            throw TemplateError.Runtime("method must be common, ceil or floor");
        if (!Py.IsNumber(value))
            throw TemplateError.Runtime($"type {Py.TypeName(value)} doesn't define __round__ method");
        if (method != "common")
        {
            double scale = Math.Pow(10, precision), scaled = Py.ToDouble(value) * scale;
            return (method == "ceil" ? Math.Ceiling(scaled) : Math.Floor(scaled)) / scale;
        }
        if (value is not double d)
            return Py.IsInteger(value, out long l) && precision >= 0 ? (object)l : RoundHalfEven(Py.ToDouble(value), precision);
        return RoundHalfEven(d, precision);
    }

    /// <summary>Python's <c>round(x, n)</c>: rounds the exact binary value half-to-even at n decimals, then converts back.</summary>
    private static double RoundHalfEven(double x, long precision)
    {
        if (!double.IsFinite(x) || x == 0 || precision > 330)
            return x;
        if (precision < -330)
            return 0.0 * x;
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0)
            exponent++;
        else
            mantissa |= 1L << 52;
        exponent -= 1075; // |x| = mantissa × 2^exponent exactly
        BigInteger numerator = mantissa, denominator = BigInteger.One;
        if (exponent > 0)
            numerator <<= exponent;
        else
            denominator <<= -exponent;
        if (precision >= 0)
            numerator *= BigInteger.Pow(10, (int)precision);
        else
            denominator *= BigInteger.Pow(10, (int)-precision);
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        int half = (remainder * 2).CompareTo(denominator);
        if (half > 0 || (half == 0 && !quotient.IsEven))
            quotient += 1;
        string digits = quotient.ToString(CultureInfo.InvariantCulture) + "e" + (-precision).ToString(CultureInfo.InvariantCulture);
        return Math.CopySign(double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture), x);
    }

    private static object? Truncate(Evaluator ev, object? value, Arguments a)
    {
        long length = Py.IsInteger(a.Get(0, "length", 255L), out long l) ? l : 255;
        bool killWords = Py.IsTruthy(a.Get(1, "killwords", false));
        string end = Py.Str(a.Get(2, "end", "..."));
        long leeway = Py.IsInteger(a.Get(3, "leeway", 5L), out long lw) ? lw : 5;
        if (length < end.Length)
            throw TemplateError.Runtime($"expected length >= {end.Length}, got {length}");
        if (Py.Length(value) <= length + leeway)
            return value; // returned as is, whatever it is
        if (!Py.IsString(value, out var s))
            throw TemplateError.Unsupported($"truncate of a {Py.TypeName(value)}");
        var points = PyText.CodePoints(s);
        string head = string.Concat(points.Take((int)(length - PyText.Length(end))));
        if (killWords)
            return head + end;
        int space = head.LastIndexOf(' ');
        return (space < 0 ? head : head[..space]) + end;
    }

    /// <summary>Jinja's <c>title</c> filter: upper-cases the first letter after a space, '-', '(', '{', '[' or '&lt;' (unlike str.title).</summary>
    private static string TitleWords(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool delimiter = c is '-' or '(' or '{' or '[' or '<' || PyText.IsSpace(c);
            sb.Append(delimiter ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = delimiter;
        }
        return sb.ToString();
    }

    private static int WordCount(string s)
    {
        int count = 0;
        bool inWord = false;
        foreach (char c in s)
        {
            bool word = char.IsLetterOrDigit(c) || c == '_' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            if (word && !inWord)
                count++;
            inWord = word;
        }
        return count;
    }
}
