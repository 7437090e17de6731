using System.Globalization;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

internal enum TokenKind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

/// <summary>One token; <see cref="Offset"/> is its position in the normalized source, <see cref="Value"/> the literal's value.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Offset, object? Value = null)
{
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;
}

/// <summary>
/// Splits a template into tokens exactly as Jinja2's lexer does with Hugging Face's settings: trim_blocks (one newline after
/// a block or comment tag is dropped), lstrip_blocks (spaces and tabs before a block or comment tag on its own line are dropped),
/// <c>-</c>/<c>+</c> whitespace control, <c>{% raw %}</c>, all newlines normalized to \n and one trailing newline dropped.
/// </summary>
internal sealed class Lexer
{
    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private bool _lineStarting = true;

    private Lexer(string source) => _src = source;

    /// <summary>The source with newlines normalized and one trailing newline removed: offsets in tokens refer to it.</summary>
    public static string Normalize(string source)
    {
        string s = source.Contains('\r') ? source.Replace("\r\n", "\n").Replace('\r', '\n') : source;
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    public static List<Token> Tokenize(string normalizedSource)
    {
        var lexer = new Lexer(normalizedSource);
        lexer.Run();
        lexer._tokens.Add(new Token(TokenKind.Eof, "", normalizedSource.Length));
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                _tokens.Add(new Token(TokenKind.Data, _src[_pos..], _pos));
                return;
            }
            char kind = _src[tag + 1];
            int after = tag + 2;
            char sign = after < _src.Length && _src[after] is '-' or '+' ? _src[after] : '\0';
            int rawBodyStart = kind == '%' ? MatchRawBegin(tag) : -1;
            EmitData(_pos, tag, sign, isVariable: kind == '{');
            if (rawBodyStart >= 0)
                LexRaw(rawBodyStart);
            else if (kind == '#')
                SkipComment(tag, after + (sign != '\0' ? 1 : 0));
            else
                LexTag(tag, kind == '{', after + (sign != '\0' ? 1 : 0));
        }
    }

    private int FindTagStart(int from)
    {
        for (int i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#')
                return i;
        return -1;
    }

    /// <summary>Emits the text before a tag after Jinja's whitespace rules: "-" strips all whitespace before it, lstrip_blocks strips a line's indentation before a block or comment tag.</summary>
    private void EmitData(int start, int end, char sign, bool isVariable)
    {
        string text = _src[start..end];
        if (sign == '-')
            text = PyText.Strip(text, null, left: false);
        else if (sign != '+' && !isVariable)
        {
            int lineStart = text.LastIndexOf('\n') + 1;
            if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && AllSpace(text, lineStart))
                text = text[..lineStart];
        }
        if (text.Length > 0)
            _tokens.Add(new Token(TokenKind.Data, text, start));
    }

    private static bool AllSpace(string s, int from)
    {
        for (int i = from; i < s.Length; i++)
            if (!PyText.IsSpace(s[i]))
                return false;
        return true;
    }

    private int SkipSpace(int i)
    {
        while (i < _src.Length && PyText.IsSpace(_src[i]))
            i++;
        return i;
    }

    private bool At(int i, string text) => string.CompareOrdinal(_src, i, text, 0, text.Length) == 0;

    /// <summary>Where the body of <c>{% raw %}</c> starts if the tag at <paramref name="tag"/> is one, else -1 (the begin tag never applies trim_blocks, as in Jinja).</summary>
    private int MatchRawBegin(int tag)
    {
        int i = tag + 2;
        if (i < _src.Length && _src[i] is '-' or '+')
            i++;
        i = SkipSpace(i);
        if (!At(i, "raw"))
            return -1;
        i = SkipSpace(i + 3);
        if (At(i, "-%}"))
            return SkipSpace(i + 3);
        return At(i, "%}") ? i + 2 : -1;
    }

    private void LexRaw(int bodyStart)
    {
        _lineStarting = bodyStart > 0 && _src[bodyStart - 1] == '\n';
        for (int i = _src.IndexOf("{%", bodyStart, StringComparison.Ordinal); i >= 0; i = _src.IndexOf("{%", i + 1, StringComparison.Ordinal))
        {
            int j = i + 2;
            char sign = j < _src.Length && _src[j] is '-' or '+' ? _src[j] : '\0';
            j = SkipSpace(j + (sign != '\0' ? 1 : 0));
            if (!At(j, "endraw"))
                continue;
            int end = MatchBlockEnd(SkipSpace(j + 6));
            if (end < 0)
                continue;
            EmitData(bodyStart, i, sign, isVariable: false);
            FinishTag(end);
            return;
        }
        throw TemplateError.At(bodyStart, ChatTemplateErrorKind.Syntax, "missing end of raw directive");
    }

    /// <summary>The end of a <c>%}</c> at <paramref name="i"/> (with its whitespace control and trim_blocks), or -1.</summary>
    private int MatchBlockEnd(int i) =>
        At(i, "+%}") ? i + 3
        : At(i, "-%}") ? SkipSpace(i + 3)
        : At(i, "%}") ? (i + 2 < _src.Length && _src[i + 2] == '\n' ? i + 3 : i + 2)
        : -1;

    private void FinishTag(int end)
    {
        _pos = end;
        _lineStarting = end > 0 && _src[end - 1] == '\n';
    }

    private void SkipComment(int tag, int bodyStart)
    {
        for (int i = bodyStart; i < _src.Length; i++)
        {
            int end = At(i, "+#}") ? i + 3
                : At(i, "-#}") ? SkipSpace(i + 3)
                : At(i, "#}") ? (i + 2 < _src.Length && _src[i + 2] == '\n' ? i + 3 : i + 2)
                : -1;
            if (end >= 0)
            {
                FinishTag(end);
                return;
            }
        }
        throw TemplateError.At(tag, ChatTemplateErrorKind.Syntax, "missing end of comment tag");
    }

    private void LexTag(int tag, bool isVariable, int i)
    {
        _tokens.Add(new Token(isVariable ? TokenKind.VariableBegin : TokenKind.BlockBegin, isVariable ? "{{" : "{%", tag));
        var balance = new Stack<char>();
        while (true)
        {
            if (balance.Count == 0)
            {
                int end = isVariable
                    ? (At(i, "-}}") ? SkipSpace(i + 3) : At(i, "}}") ? i + 2 : -1)
                    : MatchBlockEnd(i);
                if (end >= 0)
                {
                    _tokens.Add(new Token(isVariable ? TokenKind.VariableEnd : TokenKind.BlockEnd, isVariable ? "}}" : "%}", i));
                    FinishTag(end);
                    return;
                }
            }
            if (i >= _src.Length)
                throw TemplateError.At(tag, ChatTemplateErrorKind.Syntax, $"unexpected end of template: the tag is never closed with '{(isVariable ? "}}" : "%}")}'");
            char c = _src[i];
            if (PyText.IsSpace(c))
                i++;
            else if (char.IsAsciiDigit(c))
                i = LexNumber(i);
            else if (c == '_' || char.IsLetter(c))
            {
                int start = i;
                while (i < _src.Length && (_src[i] == '_' || char.IsLetterOrDigit(_src[i])))
                    i++;
                _tokens.Add(new Token(TokenKind.Name, _src[start..i], start));
            }
            else if (c is '\'' or '"')
                i = LexString(i);
            else
                i = LexOperator(i, balance);
        }
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "=", ">", "<", ".", ":", "|", ",", ";"];

    private int LexOperator(int i, Stack<char> balance)
    {
        string? op = Array.Find(Operators, o => At(i, o));
        if (op is null)
            throw TemplateError.At(i, ChatTemplateErrorKind.Syntax, $"unexpected char {PyText.Repr(_src[i].ToString())}");
        switch (op)
        {
            case "{": balance.Push('}'); break;
            case "(": balance.Push(')'); break;
            case "[": balance.Push(']'); break;
            case "}" or ")" or "]":
                if (balance.Count == 0)
                    throw TemplateError.At(i, ChatTemplateErrorKind.Syntax, $"unexpected '{op}'");
                char expected = balance.Pop();
                if (expected != op[0])
                    throw TemplateError.At(i, ChatTemplateErrorKind.Syntax, $"unexpected '{op}', expected '{expected}'");
                break;
        }
        _tokens.Add(new Token(TokenKind.Operator, op, i));
        return i + op.Length;
    }

    /// <summary>Digits with single underscores between them (<c>\d+(_\d+)*</c>); returns the end, or <paramref name="i"/> if none.</summary>
    private int ReadDigits(int i, Func<char, bool> isDigit)
    {
        if (i >= _src.Length || !isDigit(_src[i]))
            return i;
        while (i < _src.Length && isDigit(_src[i]))
        {
            i++;
            if (i + 1 < _src.Length && _src[i] == '_' && isDigit(_src[i + 1]))
                i++;
        }
        return i;
    }

    private int LexNumber(int start)
    {
        // Jinja: a float never starts right after a dot (so "x.0.1" is attribute access).
        bool floatAllowed = start == 0 || _src[start - 1] != '.';
        int intEnd = ReadDigits(start, char.IsAsciiDigit);
        int end = intEnd;
        bool isFloat = false;
        if (floatAllowed)
        {
            if (end + 1 < _src.Length && _src[end] == '.' && char.IsAsciiDigit(_src[end + 1]))
            {
                end = ReadDigits(end + 1, char.IsAsciiDigit);
                isFloat = true;
            }
            if (end < _src.Length && _src[end] is 'e' or 'E')
            {
                int e = end + 1;
                if (e < _src.Length && _src[e] is '+' or '-')
                    e++;
                int expEnd = ReadDigits(e, char.IsAsciiDigit);
                if (expEnd > e)
                {
                    end = expEnd;
                    isFloat = true;
                }
            }
        }
        if (isFloat)
        {
            string text = _src[start..end];
            _tokens.Add(new Token(TokenKind.Float, text, start, double.Parse(text.Replace("_", ""), CultureInfo.InvariantCulture)));
            return end;
        }
        return LexInteger(start);
    }

    private int LexInteger(int start)
    {
        int end;
        int radix = 10;
        if (_src[start] == '0' && start + 1 < _src.Length && char.ToLowerInvariant(_src[start + 1]) is 'b' or 'o' or 'x')
        {
            radix = char.ToLowerInvariant(_src[start + 1]) switch { 'b' => 2, 'o' => 8, _ => 16 };
            Func<char, bool> isDigit = radix switch { 2 => c => c is '0' or '1', 8 => c => c is >= '0' and <= '7', _ => char.IsAsciiHexDigit };
            end = start + 2;
            while (end < _src.Length && (isDigit(_src[end]) || (_src[end] == '_' && end + 1 < _src.Length && isDigit(_src[end + 1]))))
                end++;
            if (end == start + 2)
                end = start + 1; // just "0"; the letter becomes a name
        }
        else if (_src[start] == '0')
        {
            end = start + 1;
            while (end + 1 < _src.Length && (_src[end] == '0' || (_src[end] == '_' && _src[end + 1] == '0')))
                end += _src[end] == '_' ? 2 : 1;
            if (end < _src.Length && _src[end] == '0')
                end++;
        }
        else
            end = ReadDigits(start, char.IsAsciiDigit);
        string text = _src[start..end];
        string digits = (radix == 10 || end == start + 1 ? text : text[2..]).Replace("_", "");
        long value = 0;
        try
        {
            foreach (char c in digits)
                value = checked(value * radix + Convert.ToInt32(c.ToString(), 16));
        }
        catch (OverflowException)
        {
            throw TemplateError.At(start, ChatTemplateErrorKind.Unsupported, $"integer literal {text} does not fit in 64 bits");
        }
        _tokens.Add(new Token(TokenKind.Integer, text, start, value));
        return end;
    }

    private int LexString(int start)
    {
        char quote = _src[start];
        var sb = new StringBuilder();
        int i = start + 1;
        while (true)
        {
            if (i >= _src.Length)
                throw TemplateError.At(start, ChatTemplateErrorKind.Syntax, "unterminated string literal");
            char c = _src[i];
            if (c == quote)
                break;
            if (c != '\\')
            {
                sb.Append(c);
                i++;
                continue;
            }
            if (i + 1 >= _src.Length)
                throw TemplateError.At(start, ChatTemplateErrorKind.Syntax, "unterminated string literal");
            i = Unescape(i, sb);
        }
        string value = sb.ToString();
        _tokens.Add(new Token(TokenKind.String, value, start, value));
        return i + 1;
    }

    /// <summary>Decodes the escape at <paramref name="i"/> (a backslash) as Python's "unicode-escape" codec does; returns the index after it.</summary>
    private int Unescape(int i, StringBuilder sb)
    {
        char e = _src[i + 1];
        switch (e)
        {
            case '\n': return i + 2;
            case '\\' or '\'' or '"': sb.Append(e); return i + 2;
            case 'a': sb.Append('\a'); return i + 2;
            case 'b': sb.Append('\b'); return i + 2;
            case 'f': sb.Append('\f'); return i + 2;
            case 'n': sb.Append('\n'); return i + 2;
            case 'r': sb.Append('\r'); return i + 2;
            case 't': sb.Append('\t'); return i + 2;
            case 'v': sb.Append('\v'); return i + 2;
            case 'x': return Hex(2);
            case 'u': return Hex(4);
            case 'U': return Hex(8);
            case 'N': throw TemplateError.At(i, ChatTemplateErrorKind.Unsupported, "\\N{...} escapes in string literals");
            case >= '0' and <= '7':
                int end = i + 1, code = 0;
                while (end < _src.Length && end < i + 4 && _src[end] is >= '0' and <= '7')
                    code = code * 8 + (_src[end++] - '0');
                sb.Append((char)code);
                return end;
            default:
                sb.Append('\\').Append(e);
                return i + 2;
        }

        int Hex(int digits)
        {
            int start = i + 2;
            if (start + digits > _src.Length || _src.AsSpan(start, digits).ContainsAnyExcept(HexDigits))
                throw TemplateError.At(i, ChatTemplateErrorKind.Syntax, $"truncated \\{e} escape");
            int code = int.Parse(_src.AsSpan(start, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (code > 0x10FFFF)
                throw TemplateError.At(i, ChatTemplateErrorKind.Syntax, "illegal Unicode character");
            sb.Append(code >= 0xD800 && code <= 0xDFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code));
            return start + digits;
        }
    }
}
