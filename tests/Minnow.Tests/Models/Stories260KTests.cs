using System.Text.Json;
using Minnow.Evaluation;
using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Models;

/// <summary>The real llama2.c checkpoint stories260K against float64 reference outputs.</summary>
public class Stories260KTests
{
    private static readonly string ModelPath = TestData.Path("models/stories260K/stories260K.bin");
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(TestData.Path("models/stories260K/reference_outputs.json"))).RootElement;

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GreedyGenerationMatchesReference(int threads)
    {
        using var model = Llama2cCheckpoint.Load(ModelPath, threads);
        foreach (var c in Reference.GetProperty("greedy").EnumerateArray())
        {
            int[] prompt = Ints(c.GetProperty("prompt_ids"));
            int[] expected = Ints(c.GetProperty("greedy_ids"));
            int steps = c.GetProperty("steps").GetInt32();
            var generated = new List<int>();
            var options = new GenerationOptions { MaxTokens = steps - prompt.Length, Sampling = SamplingOptions.Greedy, StopTokens = [1] };
            await foreach (var token in new Generator(model).GenerateAsync(prompt, options))
                generated.Add(token.Id);
            Assert.Equal(expected, prompt.Concat(generated).ToArray());
        }
    }

    [Fact]
    public void LogitsMatchReferenceInBatchAndDecode()
    {
        using var model = Llama2cCheckpoint.Load(ModelPath, 2);
        var c = Reference.GetProperty("logits")[0];
        int[] ids = Ints(c.GetProperty("input_ids"));
        int[] positions = Ints(c.GetProperty("positions"));
        int vocab = model.Config.VocabSize;

        var batch = new float[ids.Length * vocab];
        model.Forward(model.CreateState(), ids, batch, allPositions: true);

        var decodeState = model.CreateState();
        var step = new float[vocab];
        var decoded = new float[ids.Length * vocab];
        for (int i = 0; i < ids.Length; i++)
        {
            model.Forward(decodeState, [ids[i]], step);
            step.CopyTo(decoded, i * vocab);
        }

        var expectedRows = c.GetProperty("logits").EnumerateArray().ToArray();
        for (int k = 0; k < positions.Length; k++)
        {
            var expected = expectedRows[k].EnumerateArray().Select(x => x.GetDouble()).ToArray();
            for (int v = 0; v < vocab; v++)
            {
                Assert.True(Math.Abs(batch[positions[k] * vocab + v] - expected[v]) < 1e-4, $"batch logit pos {positions[k]} id {v}");
                Assert.True(Math.Abs(decoded[positions[k] * vocab + v] - expected[v]) < 1e-4, $"decode logit pos {positions[k]} id {v}");
            }
        }
    }

    [Fact]
    public void ScoreLogprobsMatchReference()
    {
        using var model = Llama2cCheckpoint.Load(ModelPath, 1);
        var c = Reference.GetProperty("logits")[0];
        int[] ids = Ints(c.GetProperty("input_ids"));
        int[] positions = Ints(c.GetProperty("positions"));
        var score = Scorer.Score(model, ids);
        Assert.Equal(ids.Length - 1, score.TokenLogprobs.Length);
        var expectedRows = c.GetProperty("logits").EnumerateArray().ToArray();
        for (int k = 0; k < positions.Length; k++)
        {
            int p = positions[k];
            if (p + 1 >= ids.Length) continue;
            var expected = expectedRows[k].EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();
            double reference = Scorer.LogSoftmaxAt(expected, ids[p + 1]);
            Assert.True(Math.Abs(score.TokenLogprobs[p] - reference) < 2e-4, $"logprob at {p}: {score.TokenLogprobs[p]} vs {reference}");
        }
        Assert.Equal(-score.TokenLogprobs.Average(), score.MeanNll, 12);
    }

    [Fact]
    public void ReadsHeader()
    {
        var config = Llama2cCheckpoint.ReadConfig(ModelPath);
        Assert.Equal((64, 172, 5, 8, 4, 512, 512, true), (config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads, config.VocabSize, config.ContextLength, config.TiedEmbeddings));
    }

    [Fact]
    public void HiddenStatesAreTheClassifierInput()
    {
        using var model = Llama2cCheckpoint.Load(ModelPath, 2);
        int[] ids = [1, 461, 401, 378];
        int dim = model.Config.Dim, vocab = model.Config.VocabSize;
        var hidden = new float[ids.Length * dim];
        model.ForwardHidden(model.CreateState(), ids, hidden);
        var logits = new float[ids.Length * vocab];
        model.Forward(model.CreateState(), ids, logits, allPositions: true);
        // The model is tied: logits = hidden · embeddingᵀ, and the embedding is the first block after the header.
        var embedding = new float[vocab * dim];
        Buffer.BlockCopy(File.ReadAllBytes(ModelPath), 7 * 4, embedding, 0, embedding.Length * 4);
        for (int t = 0; t < ids.Length; t++)
            for (int v = 0; v < vocab; v += 37)
            {
                double dot = 0;
                for (int i = 0; i < dim; i++) dot += hidden[t * dim + i] * embedding[v * dim + i];
                Assert.True(Math.Abs(dot - logits[t * vocab + v]) < 1e-4, $"token {t}, id {v}");
            }
    }
}
