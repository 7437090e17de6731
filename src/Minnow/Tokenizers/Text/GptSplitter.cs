using System.Globalization;
using System.Runtime.CompilerServices;

namespace Minnow.Tokenizers.Text;

/// <summary>
/// Hand-written scanners for the split regexes of the byte-level BPE families, equivalent to the regex run by a
/// backtracking engine (alternatives tried in order, greedy quantifiers). Each scanner starts at a position and returns
/// where that position's match ends; the patterns cover every character, so the matches tile the text.
/// <list type="bullet">
/// <item>GPT-2 / r50k: <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c></item>
/// <item>cl100k / Llama 3: <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c></item>
/// <item>Qwen: as cl100k with <c>\p{N}</c> (one digit) for <c>\p{N}{1,3}</c></item>
/// <item>o200k: upper-then-lower and upper-run word alternatives with an optional contraction, <c>\p{N}{1,3}</c>,
/// <c> ?[^\s\p{L}\p{N}]+[\r\n/]*</c>, then cl100k's whitespace alternatives</item>
/// </list>
/// Contractions are matched as the pattern is written: lower case only (GPT-2), both ASCII cases (js-tiktoken spells
/// them out), or <c>(?i:...)</c>, which in Rust's and Oniguruma's Unicode case folding also lets 'ſ' (U+017F) match 's'.
/// </summary>
internal sealed class GptSplitter : PatternSplitter
{
    public enum Flavor { Gpt2, Cl100k, Qwen, O200k }

    public enum ContractionCase { LowerOnly, Ascii, UnicodeFolding }

    private const string Letters = @"\p{L}";
    private const string JsContractions = "'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D";
    private const string FoldedContractions = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    private const string CommonTail = @"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Cl100kBody = @"|[^\r\n\p{L}\p{N}]?" + Letters + @"+|\p{N}{1,3}" + CommonTail;
    private const string QwenBody = @"|[^\r\n\p{L}\p{N}]?" + Letters + @"+|\p{N}" + CommonTail;
    private const string O200kUpperLower = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+";
    private const string O200kUpper = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*";
    private const string O200kTail = @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The pattern texts this class runs, as tiktoken, js-tiktoken and HF tokenizer.json files write them.</summary>
    public static readonly IReadOnlyDictionary<string, (Flavor, ContractionCase)> KnownPatterns = new Dictionary<string, (Flavor, ContractionCase)>
    {
        [@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"] = (Flavor.Gpt2, ContractionCase.LowerOnly),
        ["(" + JsContractions + ")" + Cl100kBody] = (Flavor.Cl100k, ContractionCase.Ascii),
        [FoldedContractions + Cl100kBody] = (Flavor.Cl100k, ContractionCase.UnicodeFolding),
        [FoldedContractions + QwenBody] = (Flavor.Qwen, ContractionCase.UnicodeFolding),
        [O200kUpperLower + "(" + JsContractions + ")?|" + O200kUpper + "(" + JsContractions + ")?" + O200kTail] = (Flavor.O200k, ContractionCase.Ascii),
        [O200kUpperLower + FoldedContractions + "?|" + O200kUpper + FoldedContractions + "?" + O200kTail] = (Flavor.O200k, ContractionCase.UnicodeFolding),
    };

    private readonly Flavor _flavor;
    private readonly ContractionCase _case;

    public GptSplitter(Flavor flavor, ContractionCase contractionCase)
    {
        _flavor = flavor;
        _case = contractionCase;
    }

    /// <summary>Which of the known patterns this splitter runs.</summary>
    public Flavor Kind => _flavor;

    public static GptSplitter? TryRecognize(string pattern) =>
        KnownPatterns.TryGetValue(pattern, out var kind) ? new GptSplitter(kind.Item1, kind.Item2) : null;

    public override void FindAll(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        for (int p = 0; p < text.Length;)
        {
            int end = _flavor switch
            {
                Flavor.Gpt2 => NextGpt2(text, p),
                Flavor.O200k => NextO200k(text, p),
                _ => NextCl100k(text, p),
            };
            matches.Add((p, end));
            p = end;
        }
    }

    private int NextGpt2(ReadOnlySpan<char> s, int p)
    {
        int c = CharClass.CodePointAt(s, p, out int u);
        if (c == '\'' && Contraction(s, p + 1) is > 0 and int length)
            return p + 1 + length;
        // " ?X+" for X in letters, numbers, other: a leading space joins the run that follows it.
        int start = p;
        var category = CharClass.Category(c);
        if (c == ' ' && p + 1 < s.Length)
        {
            int next = CharClass.CodePointAt(s, p + 1, out _);
            if (!CharClass.IsWhiteSpace(next))
            {
                start = p + 1;
                c = next;
                category = CharClass.Category(next);
            }
        }
        if (CharClass.IsLetter(category))
            return Run<Letter>(s, start);
        if (CharClass.IsNumber(category))
            return Run<Number>(s, start);
        if (!CharClass.IsWhiteSpace(c))
            return Run<Other>(s, start);
        return WhiteSpace(s, p, newlines: false);
    }

    private int NextCl100k(ReadOnlySpan<char> s, int p)
    {
        int c = CharClass.CodePointAt(s, p, out int u);
        if (c == '\'' && Contraction(s, p + 1) is > 0 and int length)
            return p + 1 + length;
        var category = CharClass.Category(c);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (CharClass.IsLetter(category))
            return Run<Letter>(s, p);
        if (!IsLineBreak(c) && !CharClass.IsNumber(category) && p + u < s.Length && CharClass.IsLetter(CharClass.CodePointAt(s, p + u, out _)))
            return Run<Letter>(s, p + u);
        // \p{N}{1,3} (Qwen: \p{N})
        if (CharClass.IsNumber(category))
            return Digits(s, p, _flavor == Flavor.Qwen ? 1 : 3);
        // " ?[^\s\p{L}\p{N}]+[\r\n]*"
        int other = OtherStart(s, p, c);
        if (other >= 0)
            return Run<LineBreak>(s, Run<Other>(s, other));
        return WhiteSpace(s, p, newlines: true);
    }

    private int NextO200k(ReadOnlySpan<char> s, int p)
    {
        int c = CharClass.CodePointAt(s, p, out int u);
        var category = CharClass.Category(c);
        int word = O200kWord(s, p, c, u, category);
        if (word >= 0)
            return word;
        if (CharClass.IsNumber(category))
            return Digits(s, p, 3);
        // " ?[^\s\p{L}\p{N}]+[\r\n/]*"
        int other = OtherStart(s, p, c);
        if (other >= 0)
            return Run<LineBreakOrSlash>(s, Run<Other>(s, other));
        return WhiteSpace(s, p, newlines: true);
    }

    /// <summary>
    /// o200k's two word alternatives, in the order the regex tries them: <c>P?U*L+C?</c> with and then without the
    /// optional prefix P, then <c>P?U+L*C?</c> likewise (U = Lu Lt Lm Lo M, L = Ll Lm Lo M, C a contraction).
    /// Returns the match end or -1.
    /// </summary>
    private int O200kWord(ReadOnlySpan<char> s, int p, int c, int u, UnicodeCategory category)
    {
        bool prefix = !IsLineBreak(c) && !CharClass.IsLetter(category) && !CharClass.IsNumber(category);
        int end;
        if (prefix && (end = UpperThenLower(s, p + u)) >= 0)
            return end;
        if ((end = UpperThenLower(s, p)) >= 0)
            return end;
        if (prefix && (end = UpperRun(s, p + u)) >= 0)
            return end;
        return UpperRun(s, p);
    }

    /// <summary>
    /// <c>U*L+C?</c> at <paramref name="a"/>. U* takes the whole U run, then gives characters back until L+ can start: if
    /// the character after the run is in L, L+ runs on from there; otherwise L+ starts at the last character of the
    /// run that is also in L (Lm, Lo or M) and stops right after it, since what follows it in the run is Lu or Lt.
    /// </summary>
    private int UpperThenLower(ReadOnlySpan<char> s, int a)
    {
        int b = a, lastBoth = -1;
        while (b < s.Length)
        {
            var category = CharClass.Category(CharClass.CodePointAt(s, b, out int units));
            if (!IsUpperClass(category))
                break;
            b += units;
            if (IsLowerClass(category))
                lastBoth = b;
        }
        int end;
        if (b < s.Length && IsLowerClass(CharClass.Category(CharClass.CodePointAt(s, b, out _))))
            end = Run<LowerClass>(s, b);
        else if (lastBoth >= 0)
            end = lastBoth;
        else
            return -1;
        return end + Contraction(s, end, apostropheIncluded: true);
    }

    /// <summary><c>U+L*C?</c> at <paramref name="a"/>.</summary>
    private int UpperRun(ReadOnlySpan<char> s, int a)
    {
        int b = Run<UpperClass>(s, a);
        if (b == a)
            return -1;
        int end = Run<LowerClass>(s, b);
        return end + Contraction(s, end, apostropheIncluded: true);
    }

    private static bool IsUpperClass(UnicodeCategory c) =>
        c is UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter || CharClass.IsMark(c);

    private static bool IsLowerClass(UnicodeCategory c) =>
        c is UnicodeCategory.LowercaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter || CharClass.IsMark(c);

    /// <summary>
    /// Length of the contraction letters after an apostrophe at <paramref name="i"/> - 1 ('s 't 'm 'd 're 've 'll), or 0.
    /// With <paramref name="apostropheIncluded"/>, <paramref name="i"/> is the apostrophe and the length counts it.
    /// </summary>
    private int Contraction(ReadOnlySpan<char> s, int i, bool apostropheIncluded = false)
    {
        if (apostropheIncluded)
        {
            if (i >= s.Length || s[i] != '\'')
                return 0;
            int letters = Contraction(s, i + 1);
            return letters == 0 ? 0 : letters + 1;
        }
        if (i >= s.Length)
            return 0;
        char a = Fold(s[i]);
        if (a is 's' or 't' or 'm' or 'd')
            return 1;
        if (i + 1 < s.Length)
        {
            char b = Fold(s[i + 1]);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return 2;
        }
        return 0;
    }

    /// <summary>The letter as the contraction alternatives compare it (0 when it cannot match).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private char Fold(char c) => _case switch
    {
        ContractionCase.LowerOnly => c,
        _ when c is >= 'A' and <= 'Z' => (char)(c + 32),
        ContractionCase.UnicodeFolding when c == '\u017F' => 's',
        _ => c,
    };

    /// <summary>Start of <c> ?[^\s\p{L}\p{N}]+</c> at <paramref name="p"/> (after the optional space), or -1.</summary>
    private static int OtherStart(ReadOnlySpan<char> s, int p, int c)
    {
        if (IsOther(c))
            return p;
        if (c == ' ' && p + 1 < s.Length && IsOther(CharClass.CodePointAt(s, p + 1, out _)))
            return p + 1;
        return -1;
    }

    /// <summary>
    /// The whitespace alternatives at <paramref name="p"/>: with <paramref name="newlines"/>, <c>\s*[\r\n]+</c> ends right
    /// after the run's last line break; then <c>\s+(?!\S)</c> leaves the run's last character to the word that follows;
    /// then <c>\s+</c>. (Every White_Space character is one UTF-16 unit.)
    /// </summary>
    private static int WhiteSpace(ReadOnlySpan<char> s, int p, bool newlines)
    {
        int q = p, lastBreak = -1;
        while (q < s.Length && CharClass.IsWhiteSpace(s[q]))
        {
            if (s[q] is '\r' or '\n')
                lastBreak = q;
            q++;
        }
        if (newlines && lastBreak >= 0)
            return lastBreak + 1;
        if (q == s.Length || q - p == 1)
            return q;
        return q - 1;
    }

    private static int Digits(ReadOnlySpan<char> s, int p, int max)
    {
        int q = p;
        for (int n = 0; n < max && q < s.Length; n++)
        {
            if (!CharClass.IsNumber(CharClass.CodePointAt(s, q, out int units)))
                break;
            q += units;
        }
        return q;
    }

    /// <summary>Where the run of characters of class <typeparamref name="T"/> starting at <paramref name="p"/> ends.</summary>
    private static int Run<T>(ReadOnlySpan<char> s, int p) where T : struct, ICharTest
    {
        while (p < s.Length)
        {
            int c = CharClass.CodePointAt(s, p, out int units);
            if (!T.Test(c))
                break;
            p += units;
        }
        return p;
    }

    /// <summary>A character class as a type, so each run loop is compiled with its test inlined.</summary>
    private interface ICharTest
    {
        static abstract bool Test(int c);
    }

    private struct Letter : ICharTest
    {
        public static bool Test(int c) => c < 128 ? char.IsAsciiLetter((char)c) : CharClass.IsLetter(c);
    }

    private struct Number : ICharTest
    {
        public static bool Test(int c) => c < 128 ? char.IsAsciiDigit((char)c) : CharClass.IsNumber(c);
    }

    private struct Other : ICharTest
    {
        public static bool Test(int c) => IsOther(c);
    }

    private struct LineBreak : ICharTest
    {
        public static bool Test(int c) => IsLineBreak(c);
    }

    private struct LineBreakOrSlash : ICharTest
    {
        public static bool Test(int c) => IsLineBreak(c) || c == '/';
    }

    private struct UpperClass : ICharTest
    {
        public static bool Test(int c) => IsUpperClass(CharClass.Category(c));
    }

    private struct LowerClass : ICharTest
    {
        public static bool Test(int c) => IsLowerClass(CharClass.Category(c));
    }

    /// <summary><c>[^\s\p{L}\p{N}]</c>.</summary>
    private static bool IsOther(int c)
    {
        if (c < 128)
            return !(c is ' ' or (>= '\t' and <= '\r')) && !char.IsAsciiLetterOrDigit((char)c);
        var category = CharClass.Category(c);
        return !CharClass.IsLetter(category) && !CharClass.IsNumber(category) && !CharClass.IsWhiteSpace(c);
    }

    private static bool IsLineBreak(int c) => c is '\r' or '\n';
}
