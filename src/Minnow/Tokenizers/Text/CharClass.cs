using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Minnow.Tokenizers.Text;

/// <summary>
/// The character classes the split regexes of GPT-2, cl100k, o200k, Llama 3 and Qwen use, decided per Unicode scalar
/// value (a surrogate pair is one character, as in Rust and JavaScript's <c>u</c> mode; a lone surrogate counts as
/// U+FFFD, the character it becomes in UTF-8). White space is Unicode's White_Space property, which is what Rust's
/// <c>\s</c>, Oniguruma's <c>\s</c> and .NET's <c>\s</c> match (JavaScript's <c>\s</c> also matches U+FEFF and not
/// U+0085; the reference cases leave those two out).
/// </summary>
internal static class CharClass
{
    /// <summary>Categories of ASCII, so the common case never asks the Unicode tables.</summary>
    private static readonly UnicodeCategory[] Ascii = BuildAscii();

    private static UnicodeCategory[] BuildAscii()
    {
        var table = new UnicodeCategory[128];
        for (int c = 0; c < 128; c++)
            table[c] = CharUnicodeInfo.GetUnicodeCategory((char)c);
        return table;
    }

    /// <summary>The scalar value at <paramref name="index"/> and how many UTF-16 units it takes (a lone surrogate is U+FFFD, one unit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int CodePointAt(ReadOnlySpan<char> text, int index, out int units)
    {
        char c = text[index];
        if (!char.IsSurrogate(c))
        {
            units = 1;
            return c;
        }
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            units = 2;
            return char.ConvertToUtf32(c, text[index + 1]);
        }
        units = 1;
        return 0xFFFD;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UnicodeCategory Category(int codePoint) =>
        codePoint < 128 ? Ascii[codePoint] : CharUnicodeInfo.GetUnicodeCategory(codePoint);

    /// <summary><c>\p{L}</c>.</summary>
    public static bool IsLetter(UnicodeCategory c) => c <= UnicodeCategory.OtherLetter;

    /// <summary><c>\p{N}</c>.</summary>
    public static bool IsNumber(UnicodeCategory c) => c is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary><c>\p{M}</c>.</summary>
    public static bool IsMark(UnicodeCategory c) => c is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary><c>\p{P}</c>.</summary>
    public static bool IsPunctuation(UnicodeCategory c) => c is >= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation;

    /// <summary>Unicode White_Space (<c>\s</c>): tab to carriage return, U+0085 and the separators (Zs, Zl, Zp).</summary>
    public static bool IsWhiteSpace(int codePoint) =>
        codePoint < 128 ? codePoint is ' ' or (>= '\t' and <= '\r')
        : codePoint == 0x85 || Category(codePoint) is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    public static bool IsLetter(int codePoint) => IsLetter(Category(codePoint));
    public static bool IsNumber(int codePoint) => IsNumber(Category(codePoint));

    /// <summary>Rust's <c>char::is_alphanumeric</c> as the added-token <c>single_word</c> rule uses it (letters and numbers).</summary>
    public static bool IsAlphanumeric(int codePoint)
    {
        var c = Category(codePoint);
        return IsLetter(c) || IsNumber(c);
    }

    /// <summary>Appends one scalar value as UTF-16.</summary>
    public static void Append(StringBuilder builder, int codePoint)
    {
        if (codePoint < 0x10000)
            builder.Append((char)codePoint);
        else
            builder.Append(char.ConvertFromUtf32(codePoint));
    }
}
