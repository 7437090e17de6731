using System.Diagnostics;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Training;

namespace Minnow.Benchmarks;

/// <summary>
/// Training tokens per second of whole steps (zero gradients, forward + backward, clip, AdamW) on the two
/// models, with per-operation time shares from the tape and the share of step time outside matrix multiplies.
/// Usage: <c>train [baby|llama15m|all] [threads…] [--steps N] [--logit-block floats]</c>.
/// </summary>
public static class TrainingThroughput
{
    /// <summary>nanoGPT's CPU "baby GPT" (shakespeare_char, README): 4 layers, 4 heads, 128 wide, block 64, batch 12, vocab 65.</summary>
    private static readonly (string Name, ModelConfig Config, int Batch) Baby = ("baby-gpt", new ModelConfig
    {
        Architecture = "gpt2", Dim = 128, HiddenDim = 512, Layers = 4, Heads = 4, KvHeads = 4, VocabSize = 65, ContextLength = 64,
    }, 12);

    /// <summary>llama2.c's stories15M: dim 288, 6 layers, 6 heads, hidden 768, vocab 32000 (tied), seq 256; batch 8.</summary>
    private static readonly (string Name, ModelConfig Config, int Batch) Llama15M = ("llama-15m", new ModelConfig
    {
        Architecture = "llama", Dim = 288, HiddenDim = 768, Layers = 6, Heads = 6, KvHeads = 6, VocabSize = 32000, ContextLength = 256,
        TiedEmbeddings = true,
    }, 8);

    public static int Run(string[] args)
    {
        int steps = 10, logitBlock = 0;
        var threads = new List<int>();
        string which = "all";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--steps") steps = int.Parse(args[++i]);
            else if (args[i] == "--logit-block") logitBlock = int.Parse(args[++i]);
            else if (int.TryParse(args[i], out int t)) threads.Add(t);
            else which = args[i];
        }
        if (threads.Count == 0) threads.AddRange([1, 2]);
        foreach (var (name, config, batch) in new[] { Baby, Llama15M })
        {
            if (which != "all" && !name.StartsWith(which, StringComparison.OrdinalIgnoreCase))
                continue;
            foreach (int t in threads)
                Measure(name, config, batch, t, steps, logitBlock);
        }
        return 0;
    }

    private static void Measure(string name, ModelConfig config, int sequences, int threads, int steps, int logitBlock)
    {
        using TrainableModel model = config.Architecture == "gpt2"
            ? TrainableGpt2.Create(config, seed: 1, threads)
            : TrainableLlama.Create(config, seed: 1, threads);
        var adam = new AdamW(model.Parameters, model.Pool, beta2: 0.95f, weightDecay: 0.1f);
        if (logitBlock > 0)
            model.Tape.LogitBlockFloats = logitBlock;
        int t = config.ContextLength, tokens = sequences * t;
        var rng = new Rng(2);
        var batches = Enumerable.Range(0, 4).Select(_ =>
        {
            var ids = Enumerable.Range(0, tokens + sequences).Select(_ => (int)(rng.NextUInt32() % (uint)config.VocabSize)).ToArray();
            var inputs = new int[tokens];
            var targets = new int[tokens];
            for (int s = 0; s < sequences; s++)
            {
                Array.Copy(ids, s * (t + 1), inputs, s * t, t);
                Array.Copy(ids, s * (t + 1) + 1, targets, s * t, t);
            }
            return new TokenBatch(inputs, targets, t);
        }).ToArray();

        var optimizerTicks = 0L;
        double Step(int i)
        {
            long start = Stopwatch.GetTimestamp();
            model.Parameters.ZeroGradients();
            model.ForwardBackward(batches[i % batches.Length]);
            long update = Stopwatch.GetTimestamp();
            GradientClipping.ClipGlobalNorm(model.Parameters, 1.0);
            adam.Step(1e-3f);
            long end = Stopwatch.GetTimestamp();
            optimizerTicks += end - update;
            return Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        }
        for (int i = 0; i < 2; i++)
            Step(i);
        model.Tape.ResetTimes();
        optimizerTicks = 0;
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var times = Enumerable.Range(0, steps).Select(Step).ToArray();
        process.Refresh();
        double cpuPerStep = (process.TotalProcessorTime - cpuStart).TotalSeconds / steps;
        double total = times.Sum();
        Array.Sort(times);
        double median = times[times.Length / 2];

        // With one thread, CPU time per step excludes time the machine gave to other processes.
        // The fastest step shows what the machine gives when no other process competes for the cores.
        Console.WriteLine($"{name} threads={threads}: {tokens / median:F0} tokens/s (median step {median * 1000:F1} ms over {steps} steps; " +
            $"fastest step {times[0] * 1000:F1} ms = {tokens / times[0]:F0} tokens/s; CPU {cpuPerStep * 1000:F1} ms/step; {tokens} tokens/step, {model.Parameters.Count / 1e6:F2}M parameters)");
        var shares = model.Tape.Times.ToDictionary(kv => kv.Key, kv => kv.Value.TotalSeconds);
        shares["optimizer + clipping"] = Stopwatch.GetElapsedTime(0, optimizerTicks).TotalSeconds;
        double accounted = shares.Values.Sum();
        shares["other (zeroing, tape bookkeeping)"] = Math.Max(0, total - accounted);
        double matmul = shares.Where(kv => kv.Key.StartsWith("linear", StringComparison.Ordinal) || kv.Key.StartsWith("classifier matmul", StringComparison.Ordinal)).Sum(kv => kv.Value);
        foreach (var (kind, seconds) in shares.OrderByDescending(kv => kv.Value))
            Console.WriteLine($"  {kind,-36} {seconds / total,6:P1} {seconds / steps * 1000,8:F2} ms/step");
        Console.WriteLine($"  outside matrix multiplies: {1 - matmul / total:P1}");
        var memory = model.Memory;
        Console.WriteLine($"  memory: parameters {Mb(memory.Parameters)}, gradients {Mb(memory.Gradients)}, AdamW state {Mb(adam.StateBytes)}, " +
            $"activations {Mb(memory.Activations)}, activation gradients {Mb(memory.ActivationGradients)}, scratch {Mb(memory.Scratch)}; " +
            $"total {Mb(memory.Total + adam.StateBytes)}");
    }

    private static string Mb(long bytes) => $"{bytes / 1048576.0:F1} MB";
}

/// <summary>
/// GFLOP/s of the forward GEMM (<see cref="Minnow.Tensors.Kernels.MatMul"/>) and the two backward GEMMs
/// (<see cref="Minnow.Tensors.Kernels.MatMulBackward"/>) on the training shapes, medians of 7 runs.
/// Usage: <c>train-gemm [threads]</c>.
/// </summary>
public static unsafe class TrainingGemmThroughput
{
    public static int Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0]) : 1;
        using var pool = new Minnow.Tensors.Kernels.WorkerPool(threads);
        // (tokens, out, in): Llama 15M's projections, its classifier row block, baby GPT's projections.
        (int M, int N, int K)[] shapes = [(2048, 288, 288), (2048, 768, 288), (2048, 288, 768), (131, 32000, 288), (768, 384, 128), (768, 512, 128), (768, 128, 512)];
        var rng = new Rng(1);
        foreach (var (m, n, k) in shapes)
        {
            var w = Minnow.Tensors.Tensor.Zeros("w", n, k);
            var x = new float[m * k];
            var y = new float[m * n];
            var dw = new float[n * k];
            var wf = w.AsFloats();
            for (int i = 0; i < wf.Length; i++) wf[i] = rng.NextGaussian();
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
            for (int i = 0; i < y.Length; i++) y[i] = rng.NextGaussian();
            double flops = 2.0 * m * n * k;
            double Median(Action run)
            {
                run();
                var t = new double[7];
                for (int i = 0; i < t.Length; i++)
                {
                    long s = Stopwatch.GetTimestamp();
                    run();
                    t[i] = Stopwatch.GetElapsedTime(s).TotalSeconds;
                }
                Array.Sort(t);
                return flops / t[3] / 1e9;
            }
            fixed (float* px = x, py = y, pdw = dw)
            {
                float* ax = px, ay = py, adw = pdw;
                double fwd = Median(() => Minnow.Tensors.Kernels.MatMul.Compute(w, x, y, m, pool));
                double dx = Median(() => Minnow.Tensors.Kernels.MatMulBackward.InputGradient(w.FloatPointer, ay, ax, m, n, k, false, pool));
                double dwg = Median(() => Minnow.Tensors.Kernels.MatMulBackward.WeightGradient(ay, ax, adw, m, n, k, pool));
                Console.WriteLine($"tokens={m} out={n} in={k} threads={threads}: forward {fwd:F1}, dX {dx:F1}, dW {dwg:F1} GFLOP/s");
            }
        }
        return 0;
    }
}
