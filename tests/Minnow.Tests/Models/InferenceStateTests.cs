using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Tests.Models;

/// <summary>
/// The KV cache keeps each KV head's rows together and grows by doubling; growing and copying must move every head's
/// rows to their new places.
/// </summary>
public class InferenceStateTests
{
    private static readonly ModelConfig Config = new()
    {
        Dim = 32, HiddenDim = 48, Layers = 2, Heads = 4, KvHeads = 2, VocabSize = 259, ContextLength = 1024, TiedEmbeddings = true,
    };

    private static int[] Tokens(int n)
    {
        var rng = new Random(5);
        return Enumerable.Range(0, n).Select(_ => rng.Next(Config.VocabSize)).ToArray();
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void GrowingAndCopyingTheCacheKeepsWhatItHolds(DType cache)
    {
        using var model = new LlamaModel(Config, RandomWeights.Llama(Config, 3, 0.3f), 2) { KvCacheType = cache };
        int[] ids = Tokens(600);
        int vocab = Config.VocabSize;

        // All at once: the cache is grown before anything is in it.
        var whole = new float[vocab];
        model.Forward(model.CreateState(), ids, whole);

        // One token at a time past the first capacity (256), then the rest in one batch: two growths with rows to move.
        var state = model.CreateState();
        Assert.Equal(cache, state.CacheType);
        var step = new float[vocab];
        foreach (int id in ids[..300])
            model.Forward(state, [id], step);
        Assert.True(state.Capacity < 600);

        // A copy into a smaller fresh state must grow and carry every head's rows.
        var fork = model.CreateState();
        Assert.True(fork.Capacity < state.Position);
        fork.CopyFrom(state);

        var grown = new float[vocab];
        model.Forward(state, ids[300..], grown);
        var forked = new float[vocab];
        model.Forward(fork, ids[300..], forked);

        Assert.Equal(grown, forked);
        for (int v = 0; v < vocab; v++)
            Assert.True(Math.Abs(grown[v] - whole[v]) < 1e-4, $"logit {v}: {grown[v]} after growing vs {whole[v]} at once");
    }

    /// <summary>
    /// A BF16 cache (keys and values rounded to 8 significant bits) changes the logits of a real model a little and its
    /// greedy choices not at all; a state of one type cannot be copied into the other; other types are refused.
    /// </summary>
    [Fact]
    public void ABf16CacheStaysCloseToTheExactOne()
    {
        string folder = TestData.Path("models/tiny-hf/llama");
        using var exact = ModelLoader.Load(folder, new ModelLoadOptions { Threads = 2 });
        using var half = ModelLoader.Load(folder, new ModelLoadOptions { Threads = 2, KvCache = DType.BF16 });
        int vocab = exact.Model.Config.VocabSize;
        int[] ids = Enumerable.Range(0, 40).Select(i => (i * 37 + 11) % vocab).ToArray();
        var a = new float[ids.Length * vocab];
        var b = new float[ids.Length * vocab];
        exact.Model.Forward(exact.Model.CreateState(), ids, a, allPositions: true);
        var halfState = half.Model.CreateState();
        Assert.Equal(DType.BF16, halfState.CacheType);
        half.Model.Forward(halfState, ids, b, allPositions: true);
        double worst = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            var x = a.AsSpan(t * vocab, vocab);
            var y = b.AsSpan(t * vocab, vocab);
            for (int v = 0; v < vocab; v++)
                worst = Math.Max(worst, Math.Abs(x[v] - y[v]));
            Assert.Equal(Minnow.Generation.Sampler.ArgMax(x), Minnow.Generation.Sampler.ArgMax(y));
        }
        Assert.True(worst > 0 && worst < 2e-2, $"max |Δlogit| with a BF16 cache: {worst:E2}");

        Assert.Contains("BF16 KV cache", Assert.Throws<InvalidInputException>(() => exact.Model.CreateState().CopyFrom(halfState)).Message);
        Assert.Throws<InvalidInputException>(() => ModelLoader.Load(folder, new ModelLoadOptions { KvCache = DType.F16 }));
    }
}
