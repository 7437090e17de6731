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

    /// <summary>
    /// The unigram fixture as HF tokenizers' SentencePiece conversions lay it out in a tokenizer.json (Precompiled
    /// normalizer applied per grapheme, then runs of spaces squeezed; Metaspace pre-tokenizer and decoder; Unigram in
    /// float64), checked against HF tokenizers 0.23.2 on the same file (Fixtures/sp_unigram_nfkc.hf.cases.jsonl).
    /// </summary>
    internal static string HfUnigramTokenizer()
    {
        var model = SentencePieceModel.Load(Fixture("sp_unigram_nfkc.model"));
        var added = model.Pieces.Select((p, id) => (p, id)).Where(x => x.p.Type is PieceType.Control or PieceType.Unknown or PieceType.UserDefined)
            .Select(x => new { id = x.id, content = x.p.Piece, single_word = false, lstrip = false, rstrip = false, normalized = x.p.Type == PieceType.UserDefined, special = x.p.Type != PieceType.UserDefined });
        var metaspace = new Dictionary<string, object> { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true };
        var json = new Dictionary<string, object?>
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = new
            {
                type = "Sequence",
                normalizers = new object[]
                {
                    new { type = "Precompiled", precompiled_charsmap = Convert.ToBase64String(model.PrecompiledCharsMap) },
                    new { type = "Replace", pattern = new Dictionary<string, string> { ["Regex"] = " {2,}" }, content = " " },
                },
            },
            ["pre_tokenizer"] = metaspace, ["post_processor"] = null, ["decoder"] = metaspace,
            ["model"] = new { type = "Unigram", unk_id = 0, vocab = model.Pieces.Select(p => new object[] { p.Piece, (double)p.Score }), byte_fallback = false },
        };
        return JsonSerializer.Serialize(json);
    }

    [Fact]
    public void HfUnigramWithPrecompiledNormalizerMatchesHfTokenizers()
    {
        string json = HfUnigramTokenizer();
        if (Environment.GetEnvironmentVariable("MINNOW_DUMP_HF_JSON") is string dump)
            File.WriteAllText(dump, json);
        var tokenizer = TokenizerJson.Parse(json);
        var cases = ReferenceCases.ReadFile(Fixture("sp_unigram_nfkc.hf.cases.jsonl"));
        ReferenceCases.AssertEncodes(tokenizer, cases, "sp_unigram_nfkc (HF)", 160);
        ReferenceCases.AssertDecodes(tokenizer, cases, "sp_unigram_nfkc (HF)");
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
