using System.Text.Json;
using Minnow.Tokenizers;

namespace Minnow.Tests.Tokenizers;

/// <summary>llama2.c's tokenizer.bin (the Llama 2 vocabulary) against SentencePiece's reference encodings.</summary>
public class Llama2cTokenizerTests
{
    private static readonly Lazy<Llama2cTokenizer> Tokenizer = new(() => Llama2cTokenizer.Load(TestData.Path("tokenizers/llama2/tokenizer.bin")));

    public static IEnumerable<object[]> Cases() =>
        File.ReadLines(TestData.Path("tokenizers/llama2/cases.jsonl")).Select((line, i) => new object[] { i });

    public static IEnumerable<object[]> EncodableCases() =>
        Cases().Where(c => !HasLiteralWhitespaceSymbol(Case((int)c[0]).Text));

    private static (string Text, int[] Ids, string Decoded) Case(int index)
    {
        var c = JsonDocument.Parse(File.ReadLines(TestData.Path("tokenizers/llama2/cases.jsonl")).ElementAt(index)).RootElement;
        return (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), c.GetProperty("decoded").GetString()!);
    }

    /// <summary>
    /// Texts where run.c's algorithm cannot agree with SentencePiece: SentencePiece reads a literal '▁' in the text as
    /// a space (its whitespace symbol), while tokenizer.bin stores spaces and has no '▁' piece, so run.c byte-encodes it.
    /// </summary>
    private static bool HasLiteralWhitespaceSymbol(string text) => text.Contains('▁');

    [Theory]
    [MemberData(nameof(EncodableCases))]
    public void EncodesAsSentencePiece(int index)
    {
        var (text, ids, _) = Case(index);
        Assert.Equal(ids, Tokenizer.Value.Encode(text));
    }

    [Fact]
    public void OnlyTheLiteralWhitespaceSymbolCasesAreLeftOut() => Assert.Equal(97, EncodableCases().Count());

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodesAsSentencePiece(int index)
    {
        var (_, ids, decoded) = Case(index);
        Assert.Equal(decoded, Tokenizer.Value.Decode(ids));
    }

    [Fact]
    public void AddsBosAndKnowsSpecials()
    {
        var t = Tokenizer.Value;
        Assert.Equal(32000, t.VocabSize);
        Assert.Equal(1, t.BosId);
        Assert.Equal(2, t.EosId);
        Assert.Equal([1, 15043, 3186], t.Encode("Hello world", addSpecial: true));
        Assert.True(t.IsSpecial(1));
        Assert.False(t.IsSpecial(15043));
        Assert.Equal(15043, t.TokenToId(" Hello"));
        Assert.Equal(" Hello", t.IdToToken(15043));
        Assert.Equal("Hello world", t.Decode([1, 15043, 3186], skipSpecial: true));
        // Special-token text is plain text by default (as run.c), and one id when asked.
        Assert.NotEqual([1], t.Encode("<s>"));
        Assert.Equal([1, 15043], t.Encode("<s>Hello", parseSpecial: true));
        Assert.Empty(t.Encode(""));
    }

    [Fact]
    public void IncrementalDecodeEmitsWholeCharacters()
    {
        ITokenizer t = Tokenizer.Value;
        string text = "Emoji 😀 and ünïcödé, 日本語";
        int[] ids = t.Encode(text);
        var decoder = t.CreateIncrementalDecoder();
        var pieces = ids.Select(decoder.Push).ToList();
        pieces.Add(decoder.Flush());
        Assert.Equal(text, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
    }

    [Fact]
    public void SaveAndLoadRoundTrip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"minnow-tok-{Guid.NewGuid():N}.bin");
        try
        {
            Tokenizer.Value.Save(path);
            Assert.Equal(File.ReadAllBytes(TestData.Path("tokenizers/llama2/tokenizer.bin")), File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TruncatedFileIsAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"minnow-tok-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(path, File.ReadAllBytes(TestData.Path("tokenizers/llama2/tokenizer.bin"))[..1000]);
            var e = Assert.Throws<ModelFormatException>(() => Llama2cTokenizer.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
        }
        finally { File.Delete(path); }
    }
}
