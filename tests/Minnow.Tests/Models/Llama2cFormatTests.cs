using System.Buffers.Binary;
using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Models;

public class Llama2cFormatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("minnow-l2c").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelConfig Small(bool tied) => new()
    {
        Dim = 16, HiddenDim = 40, Layers = 2, Heads = 4, KvHeads = 2, VocabSize = 50, ContextLength = 24, TiedEmbeddings = tied,
    };

    private string WriteRandom(ModelConfig config, ulong seed = 1)
    {
        string path = Path.Combine(_dir, $"m{(config.TiedEmbeddings ? "t" : "u")}{seed}.bin");
        var rng = new Rng(seed);
        Llama2cCheckpoint.Write(path, config, (name, values) => RandomWeights.Fill(name, values, rng, 0.2f));
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WrittenCheckpointLoadsWithTheSameShape(bool tied)
    {
        var config = Small(tied);
        string path = WriteRandom(config);
        var read = Llama2cCheckpoint.ReadConfig(path);
        Assert.Equal(config with { RopeStyle = RopeStyle.Interleaved }, read);
        using var model = Llama2cCheckpoint.Load(path, 1);
        var score = Minnow.Evaluation.Scorer.Score(model, [1, 5, 9, 3]);
        Assert.All(score.TokenLogprobs, lp => Assert.True(lp < 0 && lp > -20));
        long expectedParams = 50 * 16 * (tied ? 1 : 2) + 16 + 2 * (16 + 16 + 16 * 16 + 2 * 8 * 16 + 16 * 16 + 3 * 40 * 16);
        Assert.Equal(expectedParams, model.ParameterCount);
    }

    [Fact]
    public void UntiedClassifierIsReadAfterTheFreqCisBlocks()
    {
        // Write a model whose classifier is all zeros: every logit must be exactly 0.
        var config = Small(tied: false);
        string path = Path.Combine(_dir, "zero-cls.bin");
        var rng = new Rng(3);
        Llama2cCheckpoint.Write(path, config, (name, values) =>
        {
            if (name == "wcls") values.Clear();
            else RandomWeights.Fill(name, values, rng, 0.2f);
        });
        using var model = Llama2cCheckpoint.Load(path, 1);
        var logits = new float[config.VocabSize];
        model.Forward(model.CreateState(), [1, 2], logits);
        Assert.All(logits, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void TruncatedFileIsAClearError()
    {
        string path = WriteRandom(Small(true));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(path, 1));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);

        File.WriteAllBytes(path, bytes[..12]);
        Assert.Contains("header", Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(path, 1)).Message);

        File.WriteAllBytes(path, [.. bytes, 0, 0, 0, 0]);
        Assert.Contains("trailing", Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(path, 1)).Message);
    }

    [Theory]
    [InlineData(0, 0, "dim")]
    [InlineData(2, -3, "n_layers")]
    [InlineData(3, 0, "n_heads")]
    [InlineData(3, 5, "divisible")]
    [InlineData(6, 0, "seq_len")]
    [InlineData(4, 3, "kv heads")]
    public void BadHeaderFieldsAreNamed(int field, int value, string expected)
    {
        string path = WriteRandom(Small(true));
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field * 4), value);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(path, 1));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Llama2cCheckpoint.Load(Path.Combine(_dir, "nope.bin"), 1));
        Assert.Contains("nope.bin", e.Message);
    }
}
