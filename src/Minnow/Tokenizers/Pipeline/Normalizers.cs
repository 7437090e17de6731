using System.Globalization;
using System.Text;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Pipeline;

/// <summary>Rewrites text before it is split (HF's normalizers). Each text segment between added tokens is normalized on its own.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}

/// <summary>NFC, NFD, NFKC or NFKD (managed tables, see <see cref="UnicodeNormalization"/>).</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}

/// <summary>
/// Lower-cases each character with its full Unicode mapping, as Rust's <c>char::to_lowercase</c> (so 'İ' becomes "i̇");
/// no context rules (a final 'Σ' becomes 'σ'), which is what HF's Lowercase does.
/// </summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public static string Lower(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int cp = CharClass.CodePointAt(text, i, out int units);
            if (units == 1 && char.IsSurrogate(text[i]))
                builder.Append(text[i]);
            else if (cp == 0x130)
                builder.Append("i\u0307");
            else
                CharClass.Append(builder, System.Text.Rune.ToLowerInvariant(new System.Text.Rune(cp)).Value);
            i += units;
        }
        return builder.ToString();
    }

    public string Normalize(string text) => Lower(text);
}

/// <summary>Puts a string in front of non-empty text (Mistral/Llama tokenizer.json's "▁").</summary>
internal sealed class PrependNormalizer(string prepend) : INormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prepend + text;
}

/// <summary>Replaces every match of a pattern (literal or regex) with a fixed string.</summary>
internal sealed class ReplaceNormalizer(PatternSplitter pattern, string content) : INormalizer
{
    public string Normalize(string text)
    {
        var matches = new List<(int Start, int End)>();
        pattern.FindAll(text, matches);
        if (matches.Count == 0)
            return text;
        var builder = new StringBuilder(text.Length + matches.Count * content.Length);
        int previous = 0;
        foreach (var (start, end) in matches)
        {
            builder.Append(text, previous, start - previous).Append(content);
            previous = end;
        }
        return builder.Append(text, previous, text.Length - previous).ToString();
    }
}

/// <summary>Removes whitespace at the left and/or right end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text)
    {
        int start = 0, end = text.Length;
        while (left && start < end && CharClass.IsWhiteSpace(text[start])) start++;
        while (right && end > start && CharClass.IsWhiteSpace(text[end - 1])) end--;
        return text[start..end];
    }
}

/// <summary>Drops nonspacing marks (Mn); used after NFD/NFKD to strip accents.</summary>
internal sealed class StripAccentsNormalizer : INormalizer
{
    public string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int cp = CharClass.CodePointAt(text, i, out int units);
            if (CharClass.Category(cp) != UnicodeCategory.NonSpacingMark)
                builder.Append(text, i, units);
            i += units;
        }
        return builder.ToString();
    }
}

/// <summary>
/// BERT's normalizer: drop NUL, U+FFFD and control characters and turn whitespace into spaces; put spaces around CJK
/// ideographs; strip accents (NFD then drop Mn); lower-case.
/// </summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : INormalizer
{
    private static readonly StripAccentsNormalizer AccentStripper = new();

    public string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int cp = CharClass.CodePointAt(text, i, out int units);
            i += units;
            if (cleanText)
            {
                if (cp is '\t' or '\n' or '\r' || CharClass.IsWhiteSpace(cp))
                {
                    builder.Append(' ');
                    continue;
                }
                if (cp is 0 or 0xFFFD || CharClass.Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
                    or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate)
                    continue;
            }
            bool chinese = handleChineseChars && IsChinese(cp);
            if (chinese) builder.Append(' ');
            CharClass.Append(builder, cp);
            if (chinese) builder.Append(' ');
        }
        string result = builder.ToString();
        if (stripAccents)
            result = AccentStripper.Normalize(UnicodeNormalization.Normalize(result, NormalizationForm.FormD));
        return lowercase ? LowercaseNormalizer.Lower(result) : result;
    }

    private static bool IsChinese(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}

/// <summary>Normalizers applied in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> steps) : INormalizer
{
    public string Normalize(string text)
    {
        foreach (var step in steps)
            text = step.Normalize(text);
        return text;
    }
}
