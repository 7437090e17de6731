using System.Globalization;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// Python <c>str</c> behaviour on .NET strings. Python indexes strings by code point while .NET uses UTF-16 units,
/// so length, indexing and slicing go through code points whenever a string holds surrogates.
/// </summary>
internal static class PyText
{
    /// <summary>Python's <c>str.isspace</c> (also what <c>\s</c> matches in Python regexes).</summary>
    public static bool IsSpace(char c) => c switch
    {
        ' ' or '\t' or '\n' or '\v' or '\f' or '\r' or '\x1c' or '\x1d' or '\x1e' or '\x1f' or '\x85' or '\xa0'
            or '\u1680' or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000' => true,
        >= '\u2000' and <= '\u200a' => true,
        _ => false,
    };

    public static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>Code points (lone surrogates count as one each, as in Python).</summary>
    public static List<string> CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else
                result.Add(s[i].ToString());
        }
        return result;
    }

    public static int Length(string s) => HasSurrogates(s) ? CodePoints(s).Count : s.Length;

    /// <summary>Compares in code point order (ordinal UTF-16 order differs once surrogates meet U+E000..U+FFFF).</summary>
    public static int Compare(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
            if (a[i] != b[i])
                return CodePointKey(a[i]).CompareTo(CodePointKey(b[i]));
        return a.Length.CompareTo(b.Length);

        static int CodePointKey(char c) => c >= '\uE000' ? c - 0x800 : c >= '\uD800' ? c + 0x2000 : c;
    }

    public static string Strip(string s, string? chars, bool left = true, bool right = true)
    {
        int start = 0, end = s.Length;
        Func<char, bool> strip = chars is null ? IsSpace : c => chars.Contains(c);
        if (left)
            while (start < end && strip(s[start]))
                start++;
        if (right)
            while (end > start && strip(s[end - 1]))
                end--;
        return s[start..end];
    }

    /// <summary><c>str.split(sep, maxsplit)</c>; a null separator splits on runs of whitespace and drops empty strings.</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i]))
                    i++;
                if (i == s.Length)
                    break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }
                int start = i;
                while (i < s.Length && !IsSpace(s[i]))
                    i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (sep.Length == 0)
            throw TemplateError.Runtime("empty separator");
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (at < 0)
                break;
            parts.Add(s[from..at]);
            from = at + sep.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    /// <summary><c>str.rsplit(sep, maxsplit)</c> for an explicit separator (whitespace rsplit behaves like split when unbounded).</summary>
    public static List<object?> RSplit(string s, string? sep, long maxSplit)
    {
        if (maxSplit < 0 || sep is null)
            return Split(s, sep, maxSplit < 0 ? -1 : maxSplit);
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
            if (at < 0 || sep.Length == 0)
                break;
            parts.Add(s[(at + sep.Length)..end]);
            end = at;
        }
        parts.Add(s[..end]);
        parts.Reverse();
        return parts;
    }

    /// <summary><c>str.splitlines(keepends=False)</c>: every Unicode line boundary Python recognises.</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0, i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                i += c == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
                start = i;
            }
            else
                i++;
        }
        if (start < s.Length)
            lines.Add(s[start..]);
        return lines;
    }

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0)
            count = long.MaxValue;
        if (old.Length == 0)
        {
            // Python inserts the replacement before every code point and at the end.
            var sb = new StringBuilder();
            long done = 0;
            foreach (var cp in CodePoints(s))
            {
                if (done++ < count)
                    sb.Append(replacement);
                sb.Append(cp);
            }
            if (done < count)
                sb.Append(replacement);
            return sb.ToString();
        }
        var result = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
                break;
            result.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return result.Append(s, from, s.Length - from).ToString();
    }

    /// <summary>Python's <c>str.upper()</c>: .NET's invariant mapping plus the full (one-to-many) mappings of ß and the Latin ligatures.</summary>
    public static string Upper(string s)
    {
        string upper = s.ToUpperInvariant();
        if (upper.AsSpan().IndexOfAny("ßﬀﬁﬂﬃﬄﬅﬆ") < 0)
            return upper;
        return upper.Replace("ß", "SS").Replace("ﬀ", "FF").Replace("ﬁ", "FI").Replace("ﬂ", "FL")
            .Replace("ﬃ", "FFI").Replace("ﬄ", "FFL").Replace("ﬅ", "ST").Replace("ﬆ", "ST");
    }
    public static string Lower(string s) => s.ToLowerInvariant();

    /// <summary><c>str.capitalize()</c>: first character upper-cased, the rest lower-cased.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary><c>str.title()</c>: a letter after a non-letter is upper-cased, any other letter lower-cased ("it's" → "It'S").</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>repr(str)</c>: single quotes unless the text has one and no double quote; escapes non-printables.</summary>
    public static string Repr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\')
                sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                int cp = char.ConvertToUtf32(c, s[i + 1]);
                if (IsPrintable(CharUnicodeInfo.GetUnicodeCategory(cp), cp))
                    sb.Append(c).Append(s[i + 1]);
                else
                    sb.Append($"\\U{cp:x8}");
                i++;
            }
            else if (IsPrintable(CharUnicodeInfo.GetUnicodeCategory(c), c))
                sb.Append(c);
            else if (c < 0x100)
                sb.Append($"\\x{(int)c:x2}");
            else
                sb.Append($"\\u{(int)c:x4}");
        }
        return sb.Append(quote).ToString();
    }

    // Python: printable unless the category is Other (Cc, Cf, Cs, Co, Cn) or Separator (Zl, Zp, Zs), except ASCII space.
    private static bool IsPrintable(UnicodeCategory category, int codePoint) => codePoint == ' ' || category is not (
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
        or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.SpaceSeparator);

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
            return "nan";
        if (double.IsInfinity(d))
            return d > 0 ? "inf" : "-inf";
        if (d == 0)
            return double.IsNegative(d) ? "-0.0" : "0.0";
        var (negative, digits, pointAt) = ShortestDigits(d);
        var sb = new StringBuilder();
        if (negative)
            sb.Append('-');
        if (pointAt > -4 && pointAt <= 16)
        {
            if (pointAt <= 0)
                sb.Append("0.").Append('0', -pointAt).Append(digits);
            else if (pointAt < digits.Length)
                sb.Append(digits, 0, pointAt).Append('.').Append(digits, pointAt, digits.Length - pointAt);
            else
                sb.Append(digits).Append('0', pointAt - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            int exponent = pointAt - 1;
            sb.Append(exponent < 0 ? "e-" : "e+").Append(Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>The shortest round-trip decimal digits of <paramref name="d"/> (no leading or trailing zeros) and where the point goes: value = 0.digits × 10^pointAt.</summary>
    public static (bool Negative, string Digits, int PointAt) ShortestDigits(double d)
    {
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot < 0 ? r : r.Remove(dot, 1);
        int pointAt = (dot < 0 ? r.Length : dot) + exponent;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
            lead++;
        digits = digits[lead..].TrimEnd('0');
        return (double.IsNegative(d), digits.Length == 0 ? "0" : digits, pointAt - lead);
    }
}
