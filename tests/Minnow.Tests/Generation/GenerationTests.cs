using Minnow.Evaluation;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Generation;

public class GenerationTests
{
    private static LlamaModel Tiny(int threads, int vocab = 8, float std = 0.5f, ulong seed = 7) =>
        new(Config(vocab), RandomWeights.Llama(Config(vocab), seed, std), threads);

    private static ModelConfig Config(int vocab) => new()
    {
        Dim = 16, HiddenDim = 24, Layers = 2, Heads = 2, KvHeads = 1, VocabSize = vocab, ContextLength = 32,
    };

    private static async Task<int[]> Generate(ILanguageModel model, int[] prompt, GenerationOptions options)
    {
        var ids = new List<int>();
        await foreach (var t in new Generator(model).GenerateAsync(prompt, options))
            ids.Add(t.Id);
        return ids.ToArray();
    }

    [Fact]
    public async Task SamplingIsDeterministicForASeedAndVariesAcrossSeeds()
    {
        using var model = Tiny(2, vocab: 64, std: 0.1f);
        var options = new GenerationOptions { MaxTokens = 20, Sampling = new SamplingOptions { Temperature = 1f, TopK = 40, TopP = 0.95f, MinP = 0.01f, Seed = 3 } };
        var a = await Generate(model, [1, 5], options);
        var b = await Generate(model, [1, 5], options);
        Assert.Equal(a, b);
        var others = new List<int[]>();
        for (ulong seed = 10; seed < 14; seed++)
            others.Add(await Generate(model, [1, 5], options with { Sampling = options.Sampling with { Seed = seed } }));
        Assert.Contains(others, o => !o.SequenceEqual(a));
    }

    [Fact]
    public async Task GreedyIsIdenticalForOneAndTwoThreads()
    {
        using var one = Tiny(1, vocab: 64, std: 0.3f);
        using var two = Tiny(2, vocab: 64, std: 0.3f);
        var options = new GenerationOptions { MaxTokens = 25, Sampling = SamplingOptions.Greedy };
        Assert.Equal(await Generate(one, [1, 2, 3], options), await Generate(two, [1, 2, 3], options));
    }

    [Fact]
    public void TopKOneIsGreedy()
    {
        var logits = new float[] { 0.1f, 2f, -1f, 1.9f };
        var sampler = new Sampler(new SamplingOptions { Temperature = 1.5f, TopK = 1, Seed = 1 });
        for (int i = 0; i < 20; i++)
            Assert.Equal(1, sampler.Sample((float[])logits.Clone(), [], []));
        var minP = new Sampler(new SamplingOptions { Temperature = 1f, MinP = 0.5f, Seed = 2 });
        var seen = Enumerable.Range(0, 200).Select(_ => minP.Sample((float[])logits.Clone(), [], [])).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }

    /// <summary>The kept set of a filter chain computed the plain way: sort everything, apply top-k, top-p, min-p in HF's order.</summary>
    private static HashSet<int> NaiveKeptSet(float[] logits, float temperature, int topK, float topP, float minP)
    {
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).ToList();
        if (topK > 0) order = order.Take(topK).ToList();
        var scaled = order.Select(i => Math.Exp((logits[i] - logits[order[0]]) / temperature)).ToList();
        double total = scaled.Sum();
        var probs = scaled.Select(x => x / total).ToList();
        int count = order.Count;
        if (topP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < count; i++) { cumulative += probs[i]; if (cumulative >= topP) { count = i + 1; break; } }
        }
        if (minP > 0)
        {
            int keep = 1;
            while (keep < count && probs[keep] >= minP * probs[0]) keep++;
            count = keep;
        }
        return order.Take(count).ToHashSet();
    }

    [Theory]
    [InlineData(1f, 0, 0.5f, 0f)]
    [InlineData(0.7f, 0, 0.9f, 0f)]
    [InlineData(1f, 40, 0.8f, 0f)]
    [InlineData(1f, 0, 1f, 0.2f)]
    [InlineData(1.3f, 100, 0.95f, 0.05f)]
    public void FiltersKeepExactlyTheNaiveSet(float temperature, int topK, float topP, float minP)
    {
        var rng = new Rng(99);
        var logits = Enumerable.Range(0, 5000).Select(_ => rng.NextGaussian() * 3).ToArray();
        var expected = NaiveKeptSet(logits, temperature, topK, topP, minP);
        var sampler = new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, Seed = 5 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 4000; i++)
            seen.Add(sampler.Sample((float[])logits.Clone(), [], []));
        Assert.Subset(expected, seen);
        // The most likely kept tokens all show up in 4000 draws.
        foreach (int id in expected.OrderByDescending(i => logits[i]).Take(3))
            Assert.Contains(id, seen);
    }

    [Fact]
    public void RepeatPenaltyDemotesSeenTokens()
    {
        var sampler = new Sampler(SamplingOptions.Greedy with { RepeatPenalty = 2f });
        Assert.Equal(3, sampler.Sample(new float[] { 0f, 2f, 0f, 1.5f }, [1], []));
        Assert.Throws<InvalidInputException>(() => new Sampler(new SamplingOptions { TopP = 0 }));
    }

    [Fact]
    public async Task BeamSearchWithOneBeamIsGreedy()
    {
        using var model = Tiny(1, vocab: 32, std: 0.4f);
        int[] stop = [2];
        var greedy = await Generate(model, [1, 4], new GenerationOptions { MaxTokens = 12, Sampling = SamplingOptions.Greedy, StopTokens = stop });
        var beam = BeamSearch.Run(model, [1, 4], beams: 1, maxTokens: 12, stopTokens: stop);
        Assert.Equal(greedy, beam.Tokens);
    }

    [Theory]
    [InlineData(3, 11UL)]
    [InlineData(4, 12UL)]
    [InlineData(3, 13UL)]
    public void BeamSearchWithEnoughBeamsFindsTheExhaustiveOptimum(int newTokens, ulong seed)
    {
        const int vocab = 6, eos = 2;
        using var model = Tiny(1, vocab, std: 0.8f, seed: seed);
        int[] prompt = [1, 3];
        // Exhaustive: every sequence of up to newTokens tokens that ends at EOS or at the limit.
        double best = double.NegativeInfinity;
        int[] bestSeq = [];
        int candidates = 0;
        void Search(List<int> seq)
        {
            if (seq.Count > 0 && (seq[^1] == eos || seq.Count == newTokens))
            {
                candidates++;
                double lp = Scorer.Score(model, prompt.Concat(seq).ToArray()).TokenLogprobs.Skip(prompt.Length - 1).Sum();
                if (lp > best) { best = lp; bestSeq = seq.ToArray(); }
                return;
            }
            for (int t = 0; t < vocab; t++)
            {
                seq.Add(t);
                Search(seq);
                seq.RemoveAt(seq.Count - 1);
            }
        }
        Search([]);
        var result = BeamSearch.Run(model, prompt, beams: candidates, maxTokens: newTokens, stopTokens: [eos], lengthPenalty: 0);
        Assert.Equal(bestSeq, result.Tokens);
        Assert.Equal(best, result.LogProbability, 4);
    }

    [Fact]
    public async Task StopsAtMaxTokensAndRejectsOverlongPrompts()
    {
        using var model = Tiny(1, vocab: 16);
        Assert.Equal(5, (await Generate(model, [1], new GenerationOptions { MaxTokens = 5, Sampling = SamplingOptions.Greedy })).Length);
        Assert.Empty(await Generate(model, [1], new GenerationOptions { MaxTokens = 0 }));
        await Assert.ThrowsAsync<ContextLengthException>(() => Generate(model, Enumerable.Repeat(1, 33).ToArray(), new GenerationOptions()));
        // Context fills up: generation ends with Length, not an error.
        var stats = new GenerationStats();
        await foreach (var _ in new Generator(model).GenerateAsync(Enumerable.Repeat(1, 30).ToArray(), new GenerationOptions { MaxTokens = 100 }, stats)) { }
        Assert.Equal(FinishReason.Length, stats.FinishReason);
        Assert.Equal(2, stats.GeneratedTokens); // prompt + generated fill the 32 positions
        Assert.Throws<InvalidInputException>(() => model.Forward(model.CreateState(), [16], new float[16]));
    }

    [Fact]
    public void StopSequencesAreFoundAcrossTokenBoundariesAndHeldBack()
    {
        var m = new StopSequenceMatcher(["\nUser:", "###"]);
        Assert.Equal("Hello", m.Push("Hello"));
        Assert.Equal(" there", m.Push(" there\n"));
        Assert.Equal("", m.Push("Us"));
        Assert.False(m.Stopped);
        Assert.Equal("", m.Push("er: hi"));
        Assert.True(m.Stopped);

        var n = new StopSequenceMatcher(["###"]);
        Assert.Equal("a", n.Push("a#"));
        Assert.Equal("#b", n.Push("b"));
        Assert.Equal("", n.Push("##"));
        Assert.Equal("##", n.Flush());
    }
}
