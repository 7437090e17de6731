using System.Text.RegularExpressions;
using Minnow.Tokenizers.Text;

namespace Minnow.Tests.Tokenizers;

/// <summary>
/// The hand-written split scanners against a backtracking regex engine running the very pattern text: on random strings
/// of Basic Multilingual Plane characters (where .NET's per-UTF-16-unit classes equal the per-code-point ones) drawn from
/// every character class the patterns distinguish, the matches must be identical.
/// </summary>
public class SplitterTests
{
    /// <summary>Letters of every case class, marks, numbers, apostrophes and contraction letters, all kinds of whitespace, punctuation.</summary>
    private const string Alphabet =
        "aAsStTrReEvVmMlLdDxZ'''    \t\t\n\n\r\u000B\u000C\u001C\u0085\u00A0\u2028\u3000.,;!?/-_()\"#@ǅʰ日א\u0301\u0903\u20DDⅫ½٣0123456789é" +
        "ÅßΣσЖж";

    public static IEnumerable<object[]> Patterns() => GptSplitter.KnownPatterns.Keys.Select(p => new object[] { p });

    [Theory]
    [MemberData(nameof(Patterns))]
    public void ScannerMatchesTheRegexEngine(string pattern)
    {
        var scanner = GptSplitter.TryRecognize(pattern)!;
        // Contractions under (?i:...) are spelled out, so .NET's own case-insensitivity (which differs on 'ſ' and
        // 'K' from Rust's folding) does not enter the comparison.
        var regex = new Regex(pattern.Replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)",
            "(?:'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)"), RegexOptions.CultureInvariant);
        var random = new Random(pattern.Length);
        var actual = new List<(int, int)>();
        for (int round = 0; round < 3000; round++)
        {
            var chars = new char[random.Next(0, 24)];
            for (int i = 0; i < chars.Length; i++)
                chars[i] = Alphabet[random.Next(Alphabet.Length)];
            string text = new(chars);
            actual.Clear();
            scanner.FindAll(text, actual);
            var expected = regex.Matches(text).Select(m => (m.Index, m.Index + m.Length)).ToList();
            Assert.True(expected.SequenceEqual(actual),
                $"{System.Text.Json.JsonSerializer.Serialize(text)}: regex [{string.Join(" ", expected)}] scanner [{string.Join(" ", actual)}]");
        }
    }

    [Fact]
    public void RecognisesEachEncodingsPattern()
    {
        Assert.Equal(6, GptSplitter.KnownPatterns.Count);
        Assert.IsType<GptSplitter>(PatternSplitter.For(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"));
        Assert.IsType<RegexSplitter>(PatternSplitter.For(@"\d+|\w+"));
    }

    private static List<string> Split(string pattern, string text)
    {
        var matches = new List<(int Start, int End)>();
        PatternSplitter.For(pattern).FindAll(text, matches);
        return matches.Select(m => text[m.Start..m.End]).ToList();
    }

    [Fact]
    public void ClassifiesWholeCodePointsOutsideTheBmp()
    {
        string cl100k = GptSplitter.KnownPatterns.First(p => p.Value == (GptSplitter.Flavor.Cl100k, GptSplitter.ContractionCase.UnicodeFolding)).Key;
        // Mathematical bold letters are \p{L} (as one code point each, in Rust and JavaScript's u mode alike).
        Assert.Equal(["𝐀𝐁𝐂", " 𝐝𝐞"], Split(cl100k, "𝐀𝐁𝐂 𝐝𝐞"));
        // An emoji is [^\r\n\p{L}\p{N}], so it can lead a word.
        Assert.Equal(["😀abc", " 😀😀"], Split(cl100k, "😀abc 😀😀"));
        // A lone surrogate counts as U+FFFD (punctuation-like), never as half a letter.
        Assert.Equal(["\uD800abc"], Split(cl100k, "\uD800abc"));
    }

    [Fact]
    public void CaseFoldedContractionsFollowRustNotJavaScript()
    {
        var folded = GptSplitter.KnownPatterns.First(p => p.Value == (GptSplitter.Flavor.Cl100k, GptSplitter.ContractionCase.UnicodeFolding)).Key;
        var spelled = GptSplitter.KnownPatterns.First(p => p.Value == (GptSplitter.Flavor.Cl100k, GptSplitter.ContractionCase.Ascii)).Key;
        Assert.Equal(["'ſ", "x"], Split(folded, "'ſx"));
        Assert.Equal(["'ſx"], Split(spelled, "'ſx"));
        Assert.Equal(["it", "'S"], Split(spelled, "it'S"));
    }
}
