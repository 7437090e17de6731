using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Minnow.Generation.ChatTemplates;

/// <summary>Converting .NET and JSON values into template values, and Python's <c>json.dumps</c> (HF's <c>tojson</c> filter).</summary>
internal static class Json
{
    /// <summary>A JSON value as Python's <c>json.loads</c> gives it: objects are dicts, numbers with a fraction or exponent are floats.</summary>
    public static object? FromJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new PyDict();
                foreach (var p in e.EnumerateObject())
                    dict.Set(p.Name, FromJson(p.Value));
                return dict;
            case JsonValueKind.Array:
                var list = new List<object?>(e.GetArrayLength());
                foreach (var item in e.EnumerateArray())
                    list.Add(FromJson(item));
                return list;
            case JsonValueKind.String:
                return e.GetString();
            case JsonValueKind.Number:
                string raw = e.GetRawText();
                return raw.AsSpan().IndexOfAny(".eE") < 0 && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)
                    ? (object)l
                    : e.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }

    /// <summary>
    /// A .NET value as a template value: null, string, bool, integers, floating point, <see cref="JsonElement"/>,
    /// <see cref="JsonNode"/>, <see cref="ChatTurn"/>, dictionaries with string keys and other enumerables (as lists).
    /// </summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        string or bool or long or double => value,
        int or short or byte or sbyte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (long)u : (double)u,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement e => FromJson(e),
        JsonNode node => FromJson(JsonSerializer.SerializeToElement(node)),
        ChatTurn turn => turn.ToTemplateValue(),
        IDictionary dictionary => FromDictionary(dictionary),
        IEnumerable items => items.Cast<object?>().Select(FromClr).ToList(),
        _ => throw new ArgumentException($"cannot pass a {value.GetType().Name} to a chat template: use strings, numbers, booleans, JSON, lists or dictionaries"),
    };

    private static PyDict FromDictionary(IDictionary dictionary)
    {
        var dict = new PyDict();
        foreach (DictionaryEntry entry in dictionary)
            dict.Set(FromClr(entry.Key), FromClr(entry.Value));
        return dict;
    }

    /// <summary>
    /// <c>json.dumps(value, ensure_ascii, indent, separators, sort_keys)</c> with Python's formatting: ", " and ": "
    /// separators (or "," and ": " when indenting), floats as repr, NaN/Infinity, and non-ASCII kept unless <paramref name="ensureAscii"/>.
    /// </summary>
    public static string Dumps(Evaluator ev, object? value, bool ensureAscii, string? indent, string? itemSeparator, string? keySeparator, bool sortKeys)
    {
        var writer = new Writer(ev, ensureAscii, indent, itemSeparator ?? (indent is null ? ", " : ","), keySeparator ?? ": ", sortKeys);
        writer.Write(value, 0);
        return writer.ToString();
    }

    private sealed class Writer(Evaluator ev, bool ensureAscii, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        private readonly StringBuilder _sb = new();

        public override string ToString() => _sb.ToString();

        public void Write(object? value, int level)
        {
            ev.ChargeSize(_sb.Length);
            switch (value)
            {
                case null: _sb.Append("null"); break;
                case bool b: _sb.Append(b ? "true" : "false"); break;
                case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: _sb.Append(Float(d)); break;
                case string or Markup: WriteString(Py.Str(value)); break;
                case List<object?> or object?[]: WriteArray((IReadOnlyList<object?>)value, level); break;
                case PyDict dict: WriteObject(dict, level); break;
                default: throw TemplateError.Runtime($"Object of type {Py.TypeName(value)} is not JSON serializable");
            }
        }

        private static string Float(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyText.FloatRepr(d);

        private void WriteArray(IReadOnlyList<object?> items, int level)
        {
            if (items.Count == 0)
            {
                _sb.Append("[]");
                return;
            }
            _sb.Append('[');
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0)
                    _sb.Append(itemSeparator);
                NewLine(level + 1);
                Write(items[i], level + 1);
            }
            NewLine(level);
            _sb.Append(']');
        }

        private void WriteObject(PyDict dict, int level)
        {
            if (dict.Count == 0)
            {
                _sb.Append("{}");
                return;
            }
            IEnumerable<KeyValuePair<object?, object?>> pairs = dict.Pairs;
            if (sortKeys)
            {
                try
                {
                    pairs = dict.Pairs.OrderBy(p => p.Key, Comparer<object?>.Create((a, b) => Py.Order(a, b, "<"))).ToList();
                }
                catch (InvalidOperationException e) when (e.InnerException is TemplateError inner)
                {
                    throw inner;
                }
            }
            _sb.Append('{');
            bool first = true;
            foreach (var (key, value) in pairs)
            {
                if (!first)
                    _sb.Append(itemSeparator);
                first = false;
                NewLine(level + 1);
                WriteString(key switch
                {
                    string s => s,
                    null => "null",
                    bool b => b ? "true" : "false",
                    long l => l.ToString(CultureInfo.InvariantCulture),
                    double d => Float(d),
                    _ => throw TemplateError.Runtime($"keys must be str, int, float, bool or None, not {Py.TypeName(key)}"),
                });
                _sb.Append(keySeparator);
                Write(value, level + 1);
            }
            NewLine(level);
            _sb.Append('}');
        }

        private void NewLine(int level)
        {
            if (indent is null)
                return;
            _sb.Append('\n');
            for (int i = 0; i < level; i++)
                _sb.Append(indent);
        }

        private void WriteString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    case '\b': _sb.Append("\\b"); break;
                    case '\f': _sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e))
                            _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            _sb.Append(c);
                        break;
                }
            }
            _sb.Append('"');
        }
    }
}
