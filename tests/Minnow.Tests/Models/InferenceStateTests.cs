using Minnow.Models;

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

    [Fact]
    public void GrowingAndCopyingTheCacheKeepsWhatItHolds()
    {
        using var model = new LlamaModel(Config, RandomWeights.Llama(Config, 3, 0.3f), 2);
        int[] ids = Tokens(600);
        int vocab = Config.VocabSize;

        // All at once: the cache is grown before anything is in it.
        var whole = new float[vocab];
        model.Forward(model.CreateState(), ids, whole);

        // One token at a time past the first capacity (256), then the rest in one batch: two growths with rows to move.
        var state = model.CreateState();
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
}
