using Minnow.Models;
using Minnow.Training;
using Xunit.Abstractions;

namespace Minnow.Tests.Training;

/// <summary>What a training loop relies on: freezing, gradient accumulation, determinism, optimizers, schedule, clipping.</summary>
public class TrainingLoopTests(ITestOutputHelper output)
{
    /// <summary>nanoGPT's character-level model shrunk: 2 layers, 32 wide, 4 heads, 16 positions, vocabulary 65.</summary>
    private static readonly ModelConfig TinyGpt2 = new()
    {
        Architecture = "gpt2", Dim = 32, HiddenDim = 128, Layers = 2, Heads = 4, KvHeads = 4, VocabSize = 65, ContextLength = 16,
    };

    private static void Step(TrainableModel model, IOptimizer optimizer, TokenBatch batch, float lr = 1e-3f)
    {
        model.Parameters.ZeroGradients();
        model.ForwardBackward(batch);
        GradientClipping.ClipGlobalNorm(model.Parameters, 1.0);
        optimizer.Step(lr);
    }

    [Fact]
    public void Gpt2LearnsAFixedBatch()
    {
        using var model = TrainableGpt2.Create(TinyGpt2, seed: 7, threads: 2);
        var batch = TrainableModelTests.RandomBatch(65, sequences: 4, length: 16, seed: 5);
        var adam = new AdamW(model.Parameters, model.Pool, beta2: 0.99f, weightDecay: 0.1f);
        float first = model.Loss(batch), last = first;
        for (int step = 0; step < 60; step++)
        {
            model.Parameters.ZeroGradients();
            last = model.ForwardBackward(batch);
            GradientClipping.ClipGlobalNorm(model.Parameters, 1.0);
            adam.Step(LearningRate.WarmupCosine(step, 1e-2f, 1e-3f, 5, 60));
        }
        output.WriteLine($"loss {first:F4} -> {last:F4} after 60 steps");
        Assert.InRange(first, Math.Log(65) - 0.1, Math.Log(65) + 0.1);
        Assert.True(last < 0.5 * first, $"the loss only went from {first} to {last}");
    }

    [Fact]
    public void FrozenParametersStayBitIdentical()
    {
        using var model = TrainingData.TinyLlama(threads: 2);
        var store = model.Parameters;
        int frozen = store.SetTrainable(name => name.StartsWith("model.embed_tokens", StringComparison.Ordinal) || name.StartsWith("model.layers.0.", StringComparison.Ordinal), false);
        Assert.Equal(10, frozen);
        var before = store.Parameters.ToDictionary(p => p.Name, p => p.Value.AsFloats().ToArray());
        var adam = new AdamW(store, model.Pool, beta2: 0.95f, weightDecay: 0.1f);
        for (int step = 0; step < 3; step++)
        {
            store.ZeroGradients();
            model.ForwardBackward(TrainingData.Step(step));
            foreach (var p in store.Parameters.Where(p => !p.Trainable))
                Assert.True(p.Gradient.AsFloats().ToArray().All(g => g == 0), $"{p.Name} is frozen but got a gradient");
            double norm = GradientClipping.GlobalNorm(store);
            double manual = Math.Sqrt(store.Trainable.Sum(p => p.Gradient.AsFloats().ToArray().Sum(g => (double)g * g)));
            Assert.Equal(manual, norm, 1e-6 * manual);
            GradientClipping.ClipGlobalNorm(store, 1.0);
            adam.Step(1e-3f);
        }
        foreach (var p in store.Parameters)
        {
            bool same = p.Value.AsFloats().SequenceEqual(before[p.Name]);
            Assert.True(same != p.Trainable, p.Trainable ? $"{p.Name} is trainable but did not change" : $"{p.Name} is frozen but changed");
        }
        Assert.Equal(store.Trainable.Sum(p => (long)p.Length) * 2 * sizeof(float), adam.StateBytes);
    }

    [Fact]
    public void AccumulatedMicroBatchesEqualOneBatch()
    {
        var batch = TrainingData.Step(0);
        using var whole = TrainingData.TinyLlama(threads: 2);
        whole.Parameters.ZeroGradients();
        float loss = whole.ForwardBackward(batch);
        using var parts = TrainingData.TinyLlama(threads: 2);
        parts.Parameters.ZeroGradients();
        float accumulated = 0;
        for (int micro = 0; micro < 4; micro++)
            accumulated += parts.ForwardBackward(batch.Slice(micro, 1), lossScale: 0.25f) / 4;
        Assert.Equal(loss, accumulated, 1e-5);
        var a = whole.Parameters.Gradients.ToArray();
        var b = parts.Parameters.Gradients.ToArray();
        double scale = a.Max(Math.Abs), worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"accumulated vs whole-batch gradients: max abs difference {worst:E2} (largest entry {scale:E2})");
        Assert.True(worst <= 1e-5 * scale, $"gradients differ by {worst:E2}");
    }

    /// <summary>Same seed, data and threads give the same run bit for bit; and so does another thread count.</summary>
    [Fact]
    public void TrainingIsDeterministicAndIndependentOfThreadCount()
    {
        (float[] Losses, float[] Weights) Run(int threads)
        {
            using var model = TrainableGpt2.Create(TinyGpt2, seed: 3, threads);
            var adam = new AdamW(model.Parameters, model.Pool);
            var losses = new float[4];
            for (int step = 0; step < losses.Length; step++)
            {
                var batch = TrainableModelTests.RandomBatch(65, 3, 16, seed: (ulong)step);
                model.Parameters.ZeroGradients();
                losses[step] = model.ForwardBackward(batch);
                GradientClipping.ClipGlobalNorm(model.Parameters, 1.0);
                adam.Step(1e-3f);
            }
            return (losses, model.Parameters.Values.ToArray());
        }
        var one = Run(1);
        Assert.Equal(one.Losses, Run(1).Losses);
        var two = Run(2);
        Assert.Equal(one.Losses, two.Losses);
        Assert.Equal(one.Weights, two.Weights);
        Assert.Equal(one.Weights, Run(3).Weights);
    }

    [Fact]
    public void AdamWAndSgdFollowTheirFormulas()
    {
        var store = new ParameterStore([("w", [2, 2]), ("b", [2])]);
        float[] w0 = [0.5f, -1f, 2f, 0.25f], b0 = [1f, -2f], gw = [0.1f, -0.2f, 0.3f, 0f], gb = [-0.5f, 0.05f];
        using var pool = new Minnow.Tensors.Kernels.WorkerPool(1);
        void Reset()
        {
            w0.CopyTo(store["w"].Value.AsFloats());
            b0.CopyTo(store["b"].Value.AsFloats());
            gw.CopyTo(store["w"].Gradient.AsFloats());
            gb.CopyTo(store["b"].Gradient.AsFloats());
        }
        Reset();
        var adam = new AdamW(store, pool, beta1: 0.9f, beta2: 0.95f, eps: 1e-8f, weightDecay: 0.1f);
        adam.Step(0.01f);
        adam.Step(0.01f);   // the same gradient twice
        // Float64 by hand: decay only on the 2-D weight, applied first.
        double[] Expected(float[] p0, float[] g, bool decay)
        {
            var p = p0.Select(v => (double)v).ToArray();
            var m = new double[p.Length];
            var v = new double[p.Length];
            for (int t = 1; t <= 2; t++)
                for (int i = 0; i < p.Length; i++)
                {
                    if (decay) p[i] *= 1 - 0.01 * 0.1;
                    m[i] = 0.9 * m[i] + 0.1 * g[i];
                    v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
                    p[i] -= 0.01 / (1 - Math.Pow(0.9, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.95, t)) + 1e-8);
                }
            return p;
        }
        var ew = Expected(w0, gw, decay: true);
        var eb = Expected(b0, gb, decay: false);
        for (int i = 0; i < 4; i++) Assert.Equal(ew[i], store["w"].Value.AsFloats()[i], 1e-6);
        for (int i = 0; i < 2; i++) Assert.Equal(eb[i], store["b"].Value.AsFloats()[i], 1e-6);
        Assert.Equal(2, adam.StepCount);
        Assert.Equal(4, adam.State.Count);

        Reset();
        var sgd = new Sgd(store, pool, momentum: 0.9f, weightDecay: 0.1f);
        sgd.Step(0.1f);
        sgd.Step(0.1f);
        for (int i = 0; i < 4; i++)
        {
            double p = w0[i], buf = 0;
            for (int t = 0; t < 2; t++)
            {
                buf = 0.9 * buf + gw[i] + 0.1 * p;
                p -= 0.1 * buf;
            }
            Assert.Equal(p, store["w"].Value.AsFloats()[i], 1e-6);
        }
        Assert.Equal(b0[0] - 0.1 * gb[0] - 0.1 * (0.9 * gb[0] + gb[0]), store["b"].Value.AsFloats()[0], 1e-6);
    }

    [Fact]
    public void WarmupCosineScheduleIsNanoGpts()
    {
        Assert.Equal(1e-3f * 1 / 11, LearningRate.WarmupCosine(0, 1e-3f, 1e-4f, 10, 110), 9);
        Assert.Equal(1e-3f * 10 / 11, LearningRate.WarmupCosine(9, 1e-3f, 1e-4f, 10, 110), 9);
        Assert.Equal(1e-3f, LearningRate.WarmupCosine(10, 1e-3f, 1e-4f, 10, 110), 9);
        Assert.Equal(0.55e-3f, LearningRate.WarmupCosine(60, 1e-3f, 1e-4f, 10, 110), 9);
        Assert.Equal(1e-4f, LearningRate.WarmupCosine(110, 1e-3f, 1e-4f, 10, 110), 9);
        Assert.Equal(1e-4f, LearningRate.WarmupCosine(500, 1e-3f, 1e-4f, 10, 110), 9);
    }

    [Fact]
    public void ClippingScalesOnlyAboveTheLimit()
    {
        var store = new ParameterStore([("a", [3]), ("b", [1])]);
        float[] g = [3, 0, 4];
        g.CopyTo(store["a"].Gradient.AsFloats());
        store["b"].Gradient.AsFloats()[0] = 12;
        store["b"].Trainable = false;
        var (norm, coef) = GradientClipping.ClipGlobalNorm(store, 10.0);
        Assert.Equal(5.0, norm, 12);
        Assert.Equal(1.0, coef);
        (norm, coef) = GradientClipping.ClipGlobalNorm(store, 1.0);
        Assert.Equal(5.0, norm, 12);
        Assert.Equal(1.0 / (5 + 1e-6), coef, 12);
        Assert.Equal(0.6f, store["a"].Gradient.AsFloats()[0], 6);
        Assert.Equal(12f, store["b"].Gradient.AsFloats()[0]);
    }

    [Fact]
    public void BadBatchesGetClearErrors()
    {
        using var model = TrainableGpt2.Create(TinyGpt2, seed: 1, threads: 1);
        Assert.Contains("whole number of sequences", Assert.Throws<InvalidInputException>(() => new TokenBatch([1, 2, 3], [2, 3, 4], 2)).Message);
        Assert.Contains("targets", Assert.Throws<InvalidInputException>(() => new TokenBatch([1, 2], [2], 2)).Message);
        Assert.Throws<ContextLengthException>(() => model.Loss(new TokenBatch(new int[17], new int[17], 17)));
        Assert.Contains("outside the vocabulary", Assert.Throws<InvalidInputException>(() => model.Loss(new TokenBatch([1, 65], [1, 2], 2))).Message);
        Assert.Contains("target id 65", Assert.Throws<InvalidInputException>(() => model.Loss(new TokenBatch([1, 2], [1, 65], 2))).Message);
        Assert.Contains("no parameter named", Assert.Throws<InvalidInputException>(() => model.Parameters["nope"]).Message);
    }

    [Fact]
    public void MemoryIsReported()
    {
        using var model = TrainingData.TinyLlama(threads: 1);
        model.Parameters.ZeroGradients();
        model.ForwardBackward(TrainingData.Step(0));
        var memory = model.Memory;
        output.WriteLine(memory.ToString());
        Assert.Equal(model.Parameters.Count * 4, memory.Parameters);
        Assert.True(memory.Activations > 0 && memory.ActivationGradients > 0 && memory.Scratch > 0);
    }
}
