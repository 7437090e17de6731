using System.Text.Json;
using Minnow.Evaluation;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Formats;

/// <summary>The tiny HF models of every supported family against their float64 reference logits and greedy continuations.</summary>
public class HfFamilyTests
{
    public static IEnumerable<object[]> Families() =>
        new[] { "llama", "llama-f16", "llama-bf16", "llama3", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt2" }.Select(f => new object[] { f });

    internal static string Folder(string family) => TestData.Path($"models/tiny-hf/{family}");

    internal sealed record Expected(int[][] InputIds, double[][][] Logits, int[][] Greedy);

    internal static Expected Load(string family)
    {
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(family), "expected.json"))).RootElement;
        int[][] Ints2(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var logits = root.GetProperty("logits").EnumerateArray()
            .Select(b => b.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray()).ToArray();
        return new Expected(Ints2(root.GetProperty("input_ids")), logits, Ints2(root.GetProperty("greedy_next_16")));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LogitsMatchReference(string family)
    {
        var expected = Load(family);
        using var loaded = ModelLoader.Load(Folder(family), new ModelLoadOptions { Threads = 2 });
        int vocab = loaded.Model.Config.VocabSize;
        for (int row = 0; row < expected.InputIds.Length; row++)
        {
            int[] ids = expected.InputIds[row];
            var logits = new float[ids.Length * vocab];
            loaded.Model.Forward(loaded.Model.CreateState(), ids, logits, allPositions: true);
            double worst = 0;
            for (int t = 0; t < ids.Length; t++)
                for (int v = 0; v < vocab; v++)
                    worst = Math.Max(worst, Math.Abs(logits[t * vocab + v] - expected.Logits[row][t][v]));
            Assert.True(worst < 1e-4, $"{family} row {row}: max |Δlogit| = {worst:E2}");

            // Decoding token by token gives the same last-position logits as the batch.
            var state = loaded.Model.CreateState();
            var step = new float[vocab];
            foreach (int id in ids)
                loaded.Model.Forward(state, [id], step);
            for (int v = 0; v < vocab; v++)
                Assert.True(Math.Abs(step[v] - expected.Logits[row][^1][v]) < 1e-4, $"{family} row {row} decode logit {v}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LogProbabilitiesMatchReference(string family)
    {
        var expected = Load(family);
        using var loaded = ModelLoader.Load(Folder(family), new ModelLoadOptions { Threads = 1 });
        int[] ids = expected.InputIds[1];
        var score = Scorer.Score(loaded.Model, ids);
        for (int i = 0; i + 1 < ids.Length; i++)
        {
            var row = expected.Logits[1][i];
            double max = row.Max();
            double reference = row[ids[i + 1]] - max - Math.Log(row.Sum(v => Math.Exp(v - max)));
            Assert.True(Math.Abs(score.TokenLogprobs[i] - reference) < 2e-4, $"{family} position {i}: {score.TokenLogprobs[i]} vs {reference}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public async Task GreedyContinuationMatchesReference(string family)
    {
        var expected = Load(family);
        using var loaded = ModelLoader.Load(Folder(family), new ModelLoadOptions { Threads = 2 });
        for (int row = 0; row < expected.InputIds.Length; row++)
        {
            var generated = new List<int>();
            var options = new GenerationOptions { MaxTokens = 16, Sampling = SamplingOptions.Greedy };
            await foreach (var token in new Generator(loaded.Model).GenerateAsync(expected.InputIds[row], options))
                generated.Add(token.Id);
            Assert.Equal(expected.Greedy[row], generated.ToArray());
        }
    }

    [Fact]
    public void InfoDescribesTheFolder()
    {
        using var gemma2 = ModelLoader.Load(Folder("gemma2"));
        Assert.Equal("gemma2", gemma2.Model.Config.Architecture);
        Assert.Equal("huggingface", gemma2.Format);
        Assert.Null(gemma2.Tokenizer);
        Assert.Equal(128, gemma2.Model.Config.ContextLength);
        Assert.Contains(2, gemma2.StopTokens);
        using var bf16 = ModelLoader.Load(Folder("llama-bf16"));
        Assert.True(bf16.TensorTypes["BF16"] > 0);
        using var f32 = ModelLoader.Load(Folder("llama"));
        Assert.Equal(f32.Model.ParameterCount, bf16.Model.ParameterCount);
    }
}
