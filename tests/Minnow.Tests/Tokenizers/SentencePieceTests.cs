using System.Text.Json;
using Minnow.Tokenizers;
using Minnow.Tokenizers.SentencePiece;

namespace Minnow.Tests.Tokenizers;

/// <summary>
/// SentencePiece models beyond Llama 2: small Unigram and BPE models with the nmt_nfkc compiled normalizer,
/// user-defined pieces, byte fallback and extra-whitespace removal, against SentencePiece 0.1.97's own encodings
/// (Fixtures/, made by tools/gen_sentencepiece_fixtures.py).
/// </summary>
public class SentencePieceTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tokenizers", "Fixtures", name);

    [Theory]
    [InlineData("sp_unigram_nfkc")]
    [InlineData("sp_unigram_bytes")]
    [InlineData("sp_bpe_nfkc")]
    public void MatchesSentencePieceOnEveryFixtureCase(string name)
    {
        var tokenizer = TokenizerLoader.Load(Fixture(name + ".model"));
        var failures = new List<string>();
        int count = 0;
        foreach (string line in File.ReadLines(Fixture(name + ".cases.jsonl")))
        {
            count++;
            var c = JsonDocument.Parse(line).RootElement;
            string text = c.GetProperty("text").GetString()!;
            int[] expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] ids = tokenizer.Encode(text);
            if (!ids.SequenceEqual(expected))
                failures.Add($"encode {JsonSerializer.Serialize(text)}: expected [{string.Join(",", expected)}] got [{string.Join(",", ids)}]");
            string decoded = tokenizer.Decode(expected);
            if (decoded != c.GetProperty("decoded").GetString())
                failures.Add($"decode {JsonSerializer.Serialize(text)}: expected {JsonSerializer.Serialize(c.GetProperty("decoded").GetString())} got {JsonSerializer.Serialize(decoded)}");
        }
        Assert.Equal(160, count);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n{string.Join("\n", failures.Take(10))}");
    }

    [Fact]
    public void ReadsTheModelProto()
    {
        var model = SentencePieceModel.Load(Fixture("sp_unigram_nfkc.model"));
        Assert.Equal(SentencePieceAlgorithm.Unigram, model.Algorithm);
        Assert.Equal("nmt_nfkc", model.NormalizerName);
        Assert.NotEmpty(model.PrecompiledCharsMap);
        Assert.True(model.RemoveExtraWhitespaces);
        Assert.Equal(PieceType.UserDefined, model.Pieces[3].Type);
        Assert.Equal("<mask>", model.Pieces[3].Piece);
        var llama = SentencePieceModel.Load(TestData.Path("tokenizers/llama2/tokenizer.model"));
        Assert.Equal(SentencePieceAlgorithm.Bpe, llama.Algorithm);
        Assert.True(llama.ByteFallback);
        Assert.False(llama.RemoveExtraWhitespaces);
        Assert.Equal(32000, llama.Pieces.Count);
    }

    [Fact]
    public void SpecialPiecesAreTextUnlessAsked()
    {
        var llama = ReferenceCaseTests.Get("llama2");
        Assert.Equal([1, 15043, 3186], llama.Encode("Hello world", addSpecial: true));
        Assert.NotEqual([1], llama.Encode("<s>"));
        Assert.Equal([1, 15043, 2], llama.Encode("<s>Hello</s>", parseSpecial: true));
        Assert.True(llama.IsSpecial(1));
        Assert.Equal("Hello", llama.Decode([1, 15043, 2]));
        Assert.Equal("▁Hello", llama.IdToToken(15043));
        Assert.Equal(15043, llama.TokenToId("▁Hello"));
        Assert.Equal((1, 2), (llama.BosId, llama.EosId));
    }

    [Fact]
    public void TruncatedOrForeignFilesAreClearErrors()
    {
        string path = Path.Combine(Path.GetTempPath(), $"minnow-sp-{Guid.NewGuid():N}.model");
        try
        {
            File.WriteAllBytes(path, File.ReadAllBytes(TestData.Path("tokenizers/llama2/tokenizer.model"))[..5000]);
            var e = Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("offset", e.Message);
            File.WriteAllText(path, "this is not a protobuf");
            Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load(path));
        }
        finally { File.Delete(path); }
    }
}
