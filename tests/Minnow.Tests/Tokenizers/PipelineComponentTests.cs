using Minnow.Tokenizers;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.Text;

namespace Minnow.Tests.Tokenizers;

/// <summary>
/// tokenizer.json components that the reference tokenizers do not exercise, on small hand-made files with results
/// worked out by hand (or taken from the HF tokenizers documentation's own examples).
/// </summary>
public class PipelineComponentTests
{
    private static List<string> PreTokenize(IPreTokenizer preTokenizer, string text)
    {
        var output = new List<Piece>();
        preTokenizer.PreTokenize(new Piece(text), output);
        return output.Select(p => p.ToString()).ToList();
    }

    /// <summary>The example of HF's SplitDelimiterBehavior documentation.</summary>
    [Theory]
    [InlineData("Removed", "the|final|countdown")]
    [InlineData("Isolated", "the|-|final|-|-|countdown")]
    [InlineData("MergedWithPrevious", "the-|final-|-|countdown")]
    [InlineData("MergedWithNext", "the|-final|-|-countdown")]
    [InlineData("Contiguous", "the|-|final|--|countdown")]
    public void SplitBehaviours(string behavior, string expected)
    {
        var split = new SplitPreTokenizer(PatternSplitter.ForLiteral("-"), Enum.Parse<SplitBehavior>(behavior), invert: false);
        Assert.Equal(expected.Split('|'), PreTokenize(split, "the-final--countdown"));
    }

    [Fact]
    public void OtherPreTokenizers()
    {
        Assert.Equal(["a", "1", "2", "3", "b"], PreTokenize(new DigitsPreTokenizer(individualDigits: true), "a123b"));
        Assert.Equal(["a", "123", "b"], PreTokenize(new DigitsPreTokenizer(individualDigits: false), "a123b"));
        Assert.Equal(["Hey", ",", " you", "!"], PreTokenize(new PunctuationPreTokenizer(SplitBehavior.Isolated), "Hey, you!"));
        Assert.Equal(["Hey", "friend", "!", "...", "ok"], PreTokenize(new WhitespacePreTokenizer(), "Hey friend!  ...ok"));
        Assert.Equal(["Hey", "friend!"], PreTokenize(new WhitespaceSplitPreTokenizer(), " Hey\tfriend! "));
        Assert.Equal(["Hey", "friend", "!"], PreTokenize(new BertPreTokenizer(), "Hey friend!"));
        Assert.Equal(["▁Hey", "▁friend!"], PreTokenize(new MetaspacePreTokenizer('▁', PrependScheme.Always, split: true), "Hey friend!"));
        Assert.Equal(["Hey▁friend!"], PreTokenize(new MetaspacePreTokenizer('▁', PrependScheme.Never, split: false), "Hey friend!"));
        Assert.Equal(["ĠHello", "Ġworld"], PreTokenize(new ByteLevelPreTokenizer(addPrefixSpace: true, useRegex: true), "Hello world"));
        // Inverted: the pattern's matches are what is kept, the text between them is the delimiter.
        Assert.Equal(["-", "-"], PreTokenize(new SplitPreTokenizer(PatternSplitter.For("-"), SplitBehavior.Removed, invert: true), "a-b-c"));
    }

    [Fact]
    public void Normalizers()
    {
        Assert.Equal("i\u0307stanbul σς", new LowercaseNormalizer().Normalize("İSTANBUL Σς"));
        Assert.Equal("a b", new StripNormalizer(true, true).Normalize("\t a b \n"));
        Assert.Equal("a_b_c", new ReplaceNormalizer(PatternSplitter.For(@"\s+"), "_").Normalize("a  b\tc"));
        Assert.Equal("cafe", new SequenceNormalizer([new UnicodeNormalizer(System.Text.NormalizationForm.FormD), new StripAccentsNormalizer()]).Normalize("café"));
        Assert.Equal("hello  日  本  x", new BertNormalizer(true, true, true, true).Normalize("Héllo\u0000 日本\tX"));
    }

    [Fact]
    public void Decoders()
    {
        void Check(IDecoder decoder, string[] tokens, string expected)
        {
            var list = tokens.ToList();
            decoder.Decode(list);
            Assert.Equal(expected, string.Concat(list));
        }
        Check(new ByteFallbackDecoder(), ["a", "<0xE6>", "<0x97>", "<0xA5>", "b", "<0xFF>", "<0x41>"], "a日b\uFFFD\uFFFD");
        Check(new MetaspaceDecoder('▁', PrependScheme.Always), ["▁Hey", "▁friend"], "Hey friend");
        Check(new StripDecoder(' ', 1, 1), ["  a  "], " a ");
        Check(new WordPieceDecoder("##", cleanup: true), ["un", "##aff", "##able", "!"], "unaffable!");
        Check(new BpeSuffixDecoder("</w>"), ["hel", "lo</w>", "world</w>"], "hello world");
        Check(new SequenceDecoder([new ReplaceDecoder(new ReplaceNormalizer(PatternSplitter.ForLiteral("▁"), " ")), new FuseDecoder(), new StripDecoder(' ', 1, 0)]),
            ["▁a", "▁b"], "a b");
    }

    private const string UnigramJson = """
        {
          "added_tokens": [{"id": 0, "content": "<unk>", "special": true}],
          "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null,
          "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
                    "vocab": [["<unk>", 0], ["a", -1], ["b", -2], ["ab", -1.5], ["abc", -5], ["c", -3]]}
        }
        """;

    [Fact]
    public void UnigramPicksTheBestSegmentation()
    {
        var tokenizer = TokenizerJson.Parse(UnigramJson);
        // abc: [abc] -5, [ab][c] -4.5, [a][b][c] -6.
        Assert.Equal([3, 5], tokenizer.Encode("abc"));
        // Unknown characters score min - 10 and fuse into one unknown token.
        Assert.Equal([3, 0], tokenizer.Encode("abdd"));
        Assert.Equal([1, 1, 3], tokenizer.Encode("a a ab"));
        Assert.Equal("ab c", tokenizer.Decode([3, 5]));
    }

    private const string WordPieceJson = """
        {
          "added_tokens": [{"id": 0, "content": "[UNK]", "special": true}, {"id": 5, "content": "[CLS]", "special": true}, {"id": 6, "content": "[SEP]", "special": true}],
          "normalizer": {"type": "BertNormalizer", "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"},
          "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 6], "cls": ["[CLS]", 5]},
          "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
          "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                    "vocab": {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "!": 4, "[CLS]": 5, "[SEP]": 6}}
        }
        """;

    [Fact]
    public void WordPieceWithBertComponents()
    {
        var tokenizer = TokenizerJson.Parse(WordPieceJson);
        Assert.Equal([1, 2, 3, 4], tokenizer.Encode("UnAffable!"));
        Assert.Equal([5, 1, 2, 3, 0, 6], tokenizer.Encode("unaffable xyz", addSpecial: true));
        Assert.Equal("unaffable [UNK]", tokenizer.Decode([1, 2, 3, 0]));
        Assert.Equal("unaffable", tokenizer.Decode([5, 1, 2, 3, 6], skipSpecial: true));
        Assert.Equal((5, 6), (tokenizer.BosId, tokenizer.EosId));
    }

    [Fact]
    public void AddedTokenOptions()
    {
        var vocabulary = new AddedVocabulary([
            new AddedToken(10, "<mask>", Special: true, LStrip: true, RStrip: true),
            new AddedToken(11, "ab", Special: false, SingleWord: true),
            new AddedToken(12, "<|a|>", Special: true),
            new AddedToken(13, "<|a|>x", Special: true),
        ]);
        List<string> Split(string text, bool parseSpecial = true)
        {
            var segments = new List<Segment>();
            vocabulary.SplitRaw(text, parseSpecial, segments);
            return segments.Select(s => s.IsToken ? $"[{s.TokenId}]" : text[s.Start..s.End]).ToList();
        }
        Assert.Equal(["a", "[10]", "b"], Split("a  <mask>  b"));
        Assert.Equal(["[11]", " cab ", "[11]"], Split("ab cab ab"));
        Assert.Equal(["[13]", "y"], Split("<|a|>xy"));
        Assert.Equal(["<|a|> ", "[11]"], Split("<|a|> ab", parseSpecial: false));
    }

    [Fact]
    public void UnsupportedComponentsAreNamed()
    {
        var e = Assert.Throws<ModelFormatException>(() => TokenizerJson.Parse(UnigramJson.Replace("\"WhitespaceSplit\"", "\"UnicodeScripts\""), "t.json"));
        Assert.Contains("pre_tokenizer", e.Message);
        Assert.Contains("UnicodeScripts", e.Message);
        Assert.Throws<ModelFormatException>(() => TokenizerJson.Parse("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"""));
    }
}
