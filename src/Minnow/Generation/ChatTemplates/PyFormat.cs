using System.Globalization;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>Python's string formatting: <c>"%s" % args</c> (also the |format filter) and <c>"{}".format(...)</c>.</summary>
internal static class PyFormat
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary><c>format % values</c>: a tuple gives the positional values, a dict serves <c>%(name)s</c>, anything else is one value.</summary>
    public static string Percent(Evaluator ev, string format, object? values)
    {
        var positional = values is object?[] tuple ? tuple : [values];
        var mapping = values as PyDict;
        bool mappingLike = mapping is not null || values is Undefined; // Python skips the "not all converted" check for these
        int next = 0;
        bool usedMapping = false;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            if (++i >= format.Length)
                throw TemplateError.Runtime("incomplete format");
            object? value = null;
            bool haveValue = false;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0 || mapping is null)
                    throw TemplateError.Runtime(close < 0 ? "incomplete format key" : "format requires a mapping");
                if (!mapping.TryGet(format[(i + 1)..close], out value))
                    throw TemplateError.Runtime($"KeyError: {PyText.Repr(format[(i + 1)..close])}");
                haveValue = usedMapping = true;
                i = close + 1;
            }
            var spec = new Spec();
            for (; i < format.Length && "-+ #0".Contains(format[i]); i++)
                spec.Flag(format[i]);
            spec.Width = ReadNumber(format, ref i, () => Py.IsInteger(Next(), out long w) ? (int)w : throw TemplateError.Runtime("* wants int"));
            if (i < format.Length && format[i] == '.')
            {
                i++;
                spec.Precision = ReadNumber(format, ref i, () => Py.IsInteger(Next(), out long p) ? (int)p : throw TemplateError.Runtime("* wants int")) ?? 0;
            }
            while (i < format.Length && format[i] is 'h' or 'l' or 'L')
                i++;
            if (i >= format.Length)
                throw TemplateError.Runtime("incomplete format");
            char type = format[i];
            if (type == '%')
            {
                sb.Append('%');
                continue;
            }
            if (!haveValue)
                value = Next();
            spec.Type = type;
            string text = type switch
            {
                's' => spec.Precision is int p && p < Py.Str(value).Length ? Py.Str(value)[..p] : Py.Str(value),
                'r' or 'a' => Py.Repr(value),
                'c' => Py.IsInteger(value, out long code) ? char.ConvertFromUtf32((int)code) : Py.Str(value),
                _ => FormatNumber(value, spec, percentStyle: true),
            };
            if (!spec.LeftAlign)
                spec.Align = spec.ZeroPad && type is not ('s' or 'r' or 'a' or 'c') ? '=' : '>';
            if (spec.Align == '=')
                spec.Fill = '0';
            sb.Append(Pad(text, spec, numeric: type is not ('s' or 'r' or 'a' or 'c')));
            ev.ChargeSize(sb.Length);
        }
        if (!usedMapping && !mappingLike && next < positional.Length)
            throw TemplateError.Runtime("not all arguments converted during string formatting");
        return sb.ToString();

        object? Next() => next < positional.Length
            ? positional[next++]
            : throw TemplateError.Runtime("not enough arguments for format string");
    }

    private static int? ReadNumber(string s, ref int i, Func<int> star)
    {
        if (i < s.Length && s[i] == '*')
        {
            i++;
            return star();
        }
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
            i++;
        return i > start ? int.Parse(s[start..i], Inv) : null;
    }

    /// <summary><c>str.format(*args, **kwargs)</c> with fields <c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>.attr</c>/<c>[key]</c>, <c>!r</c>/<c>!s</c> and format specs.</summary>
    public static string Format(Evaluator ev, string format, Arguments args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}')
                    i++;
                else
                    throw TemplateError.Runtime("Single '}' encountered in format string");
                sb.Append('}');
                continue;
            }
            if (c != '{')
            {
                sb.Append(c);
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '{')
            {
                sb.Append('{');
                i++;
                continue;
            }
            int close = format.IndexOf('}', i);
            if (close < 0)
                throw TemplateError.Runtime("Single '{' encountered in format string");
            string field = format[(i + 1)..close];
            i = close;
            string specText = "";
            int colon = field.IndexOf(':');
            if (colon >= 0)
                (field, specText) = (field[..colon], field[(colon + 1)..]);
            char conversion = ' ';
            int bang = field.IndexOf('!');
            if (bang >= 0)
                (field, conversion) = (field[..bang], field.Length > bang + 1 ? field[bang + 1] : ' ');
            object? value = ResolveField(field, args, ref auto);
            if (conversion is 'r' or 'a')
                value = Py.Repr(value);
            else if (conversion == 's')
                value = Py.Str(value);
            sb.Append(FormatValue(value, specText));
            ev.ChargeSize(sb.Length);
        }
        return sb.ToString();
    }

    private static object? ResolveField(string field, Arguments args, ref int auto)
    {
        int end = field.IndexOfAny(['.', '[']);
        string head = end < 0 ? field : field[..end];
        object? value;
        if (head.Length == 0)
            value = args.Positional.Count > auto ? args.Positional[auto++] : throw TemplateError.Runtime($"Replacement index {auto} out of range for positional args tuple");
        else if (int.TryParse(head, NumberStyles.None, Inv, out int index))
            value = index < args.Positional.Count ? args.Positional[index] : throw TemplateError.Runtime($"Replacement index {index} out of range for positional args tuple");
        else
            value = args.Keywords.FindLast(k => k.Key == head) is { Key: not null } kw ? kw.Value : throw TemplateError.Runtime($"KeyError: {PyText.Repr(head)}");
        for (int i = end; i >= 0 && i < field.Length;)
        {
            if (field[i] == '.')
            {
                int stop = field.IndexOfAny(['.', '['], i + 1);
                stop = stop < 0 ? field.Length : stop;
                value = Py.GetAttr(value, field[(i + 1)..stop]);
                i = stop;
            }
            else
            {
                int stop = field.IndexOf(']', i);
                if (stop < 0)
                    throw TemplateError.Runtime("Missing ']' in format string");
                string key = field[(i + 1)..stop];
                value = Py.GetItem(value, long.TryParse(key, NumberStyles.None, Inv, out long n) ? n : key);
                i = stop + 1;
            }
        }
        return value;
    }

    /// <summary>Python's <c>format(value, spec)</c> for the standard format mini-language.</summary>
    public static string FormatValue(object? value, string specText)
    {
        var spec = new Spec();
        int i = 0;
        if (specText.Length >= 2 && specText[1] is '<' or '>' or '^' or '=')
        {
            spec.Fill = specText[0];
            spec.Align = specText[1];
            i = 2;
        }
        else if (specText.Length >= 1 && specText[0] is '<' or '>' or '^' or '=')
            spec.Align = specText[i++];
        if (i < specText.Length && specText[i] is '+' or '-' or ' ')
            spec.Sign = specText[i++];
        if (i < specText.Length && specText[i] == '#')
            spec.Flag(specText[i++]);
        if (i < specText.Length && specText[i] == '0')
        {
            spec.Flag('0');
            i++;
        }
        spec.Width = ReadNumber(specText, ref i, () => throw TemplateError.Runtime("Invalid format specifier"));
        if (i < specText.Length && specText[i] is ',' or '_')
            spec.Grouping = specText[i++];
        if (i < specText.Length && specText[i] == '.')
        {
            i++;
            spec.Precision = ReadNumber(specText, ref i, () => throw TemplateError.Runtime("Invalid format specifier"));
        }
        if (i < specText.Length)
            spec.Type = specText[i++];
        if (i != specText.Length)
            throw TemplateError.Runtime($"Invalid format specifier '{specText}' for object of type '{Py.TypeName(value)}'");

        bool numeric = Py.IsNumber(value) && value is not bool || (value is bool && spec.Type != '\0');
        string text;
        if (!numeric)
        {
            if (spec.Type is not ('\0' or 's'))
                throw TemplateError.Runtime($"Unknown format code '{spec.Type}' for object of type '{Py.TypeName(value)}'");
            text = Py.Str(value);
            if (spec.Precision is int p && p < text.Length)
                text = text[..p];
        }
        else if (spec.Type == '\0' && value is double && spec.Precision is null)
            text = Signed(PyText.FloatRepr(Math.Abs((double)value)), (double)value < 0 || double.IsNegative((double)value), spec);
        else
        {
            if (spec.Type == '\0')
                spec.Type = value is double ? 'g' : 'd';
            text = FormatNumber(value, spec, percentStyle: false);
        }
        return Pad(text, spec, numeric);
    }

    private sealed class Spec
    {
        public bool LeftAlign, ZeroPad, Alternate;
        public char Sign = '-';
        public char Fill = ' ', Align, Grouping, Type;
        public int? Width, Precision;

        public void Flag(char c)
        {
            switch (c)
            {
                case '-': LeftAlign = true; break;
                case '+' or ' ': Sign = c; break;
                case '#': Alternate = true; break;
                case '0': ZeroPad = true; break;
            }
        }
    }

    private static string FormatNumber(object? value, Spec spec, bool percentStyle)
    {
        if (!Py.IsNumber(value))
            throw TemplateError.Runtime($"%{spec.Type} format: a real number is required, not {Py.TypeName(value)}");
        char type = spec.Type;
        if (type is 'd' or 'i' or 'u' or 'x' or 'X' or 'o' or 'b' or 'n')
        {
            if (value is double && !percentStyle)
                throw TemplateError.Runtime($"Unknown format code '{type}' for object of type 'float'");
            long n = value is double d ? (long)Math.Truncate(d) : Py.IsInteger(value, out long l) ? l : 0;
            ulong magnitude = n < 0 ? (ulong)(-(n + 1)) + 1 : (ulong)n;
            string digits = type switch
            {
                'x' => magnitude.ToString("x", Inv),
                'X' => magnitude.ToString("X", Inv),
                'o' => Convert.ToString((long)magnitude, 8),
                'b' => Convert.ToString((long)magnitude, 2),
                _ => magnitude.ToString(Inv),
            };
            if (spec.Grouping != '\0')
                digits = Group(digits, spec.Grouping);
            if (spec.Alternate && type is 'x' or 'X' or 'o' or 'b')
                digits = (type == 'X' ? "0X" : "0" + type) + digits;
            return Signed(digits, n < 0, spec);
        }
        double x = Py.ToDouble(value);
        int precision = spec.Precision ?? 6;
        string body = type switch
        {
            'f' or 'F' => Fixed(Math.Abs(x), precision),
            'e' or 'E' => Exponent(Math.Abs(x), precision, type),
            'g' or 'G' => General(Math.Abs(x), precision == 0 ? 1 : precision, type, spec.Alternate),
            '%' when !percentStyle => Fixed(Math.Abs(x) * 100, precision) + "%",
            _ => throw TemplateError.Runtime($"unsupported format character '{type}'"),
        };
        if (double.IsNaN(x) || double.IsInfinity(x))
            body = double.IsNaN(x) ? "nan" : "inf";
        if (type is 'F' or 'E' or 'G')
            body = body.ToUpperInvariant();
        if (spec.Grouping != '\0')
        {
            int dot = body.IndexOfAny(['.', 'e', 'E', '%']);
            body = Group(dot < 0 ? body : body[..dot], spec.Grouping) + (dot < 0 ? "" : body[dot..]);
        }
        return Signed(body, x < 0 || (x == 0 && double.IsNegative(x)), spec);
    }

    private static string Fixed(double x, int precision) => x.ToString("F" + precision, Inv);

    private static string Exponent(double x, int precision, char type)
    {
        string s = x.ToString((type == 'E' ? "E" : "e") + precision, Inv); // "1.5e+003"
        int e = s.IndexOfAny(['e', 'E']);
        int exponent = int.Parse(s[(e + 1)..], Inv);
        return s[..(e + 1)] + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", Inv);
    }

    private static string General(double x, int precision, char type, bool keepZeros)
    {
        if (x == 0)
            return keepZeros ? "0." + new string('0', precision - 1) : "0";
        string e = Exponent(x, precision - 1, 'e');
        int exponent = int.Parse(e[(e.IndexOf('e') + 1)..], Inv);
        string s = exponent >= -4 && exponent < precision ? Fixed(x, precision - 1 - exponent) : e;
        if (!keepZeros)
        {
            int ePos = s.IndexOf('e');
            string mantissa = ePos < 0 ? s : s[..ePos];
            if (mantissa.Contains('.'))
                mantissa = mantissa.TrimEnd('0').TrimEnd('.');
            s = mantissa + (ePos < 0 ? "" : s[ePos..]);
        }
        return s;
    }

    private static string Group(string digits, char separator)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < digits.Length; i++)
        {
            if (i > 0 && (digits.Length - i) % 3 == 0)
                sb.Append(separator);
            sb.Append(digits[i]);
        }
        return sb.ToString();
    }

    private static string Signed(string body, bool negative, Spec spec) =>
        (negative ? "-" : spec.Sign == '-' ? "" : spec.Sign.ToString()) + body;

    private static string Pad(string text, Spec spec, bool numeric)
    {
        int width = spec.Width ?? 0;
        int length = PyText.Length(text);
        if (length >= width)
            return text;
        int padding = width - length;
        char align = spec.LeftAlign ? '<' : spec.Align != '\0' ? spec.Align : spec.ZeroPad && numeric ? '=' : numeric ? '>' : '<';
        char fill = spec.ZeroPad && numeric && spec.Align == '\0' && !spec.LeftAlign ? '0' : spec.Fill;
        switch (align)
        {
            case '>':
                return new string(fill, padding) + text;
            case '^':
                return new string(fill, padding / 2) + text + new string(fill, padding - padding / 2);
            case '=':
                int signLength = text.Length > 0 && text[0] is '-' or '+' or ' ' ? 1 : 0;
                return text[..signLength] + new string(fill, padding) + text[signLength..];
            default:
                return text + new string(fill, padding);
        }
    }
}
