using System.Diagnostics;
using Minnow.Models;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// Decode speed as a fraction of the read bandwidth measured in the same run: the bare matrix-vector products of one
/// decode step (every matrix of a 110M-shaped model, in forward order), then a real model's decode steps.
/// </summary>
public static class DecodeThroughput
{
    public static int Run(string[] args)
    {
        string? modelPath = args.Length > 0 ? args[0] : null;
        int maxThreads = args.Length > 1 ? int.Parse(args[1]) : Environment.ProcessorCount;
        var matrices = Matrices110M();
        long bytes = 0;
        foreach (var m in matrices) bytes += m.ByteLength;
        for (int threads = 1; threads <= maxThreads; threads++)
        {
            double bandwidth = MachineLimits.ReadBandwidthGBps(threads);
            using var pool = new WorkerPool(threads);
            double kernel = bytes * MedianSteps(() => MatVecStep(matrices, pool)) / 1e9;
            Console.WriteLine($"threads={threads}: read {bandwidth:F2} GB/s; bare matvecs {kernel:F2} GB/s = {kernel / bandwidth:P1}");
            if (modelPath is not null)
            {
                using var loaded = ModelLoader.Load(modelPath, new ModelLoadOptions { Threads = threads });
                var model = loaded.Model;
                var state = model.CreateState(Math.Min(model.Config.ContextLength, 256));
                var logits = new float[model.Config.VocabSize];
                model.Forward(state, [1, 2, 3, 4], logits);
                double tokensPerSecond = MedianSteps(() =>
                {
                    if (state.Position == state.ContextLength) state.Rewind(4);
                    model.Forward(state, [7], logits);
                });
                double gbps = model.WeightBytesPerToken * tokensPerSecond / 1e9;
                Console.WriteLine($"threads={threads}: {Path.GetFileName(modelPath)} decode {tokensPerSecond:F1} tok/s, {gbps:F2} GB/s = {gbps / bandwidth:P1} of read bandwidth");
            }
        }
        return 0;
    }

    /// <summary>Steps per second: median of 7 runs of 20 steps, after warm-up.</summary>
    private static double MedianSteps(Action step)
    {
        for (int i = 0; i < 5; i++) step();
        var rates = new double[7];
        for (int r = 0; r < rates.Length; r++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 20; i++) step();
            rates[r] = 20 / clock.Elapsed.TotalSeconds;
        }
        Array.Sort(rates);
        return rates[rates.Length / 2];
    }

    private static readonly float[] X = new float[2048], Y = new float[32000];

    private static void MatVecStep(List<Tensor> matrices, WorkerPool pool)
    {
        foreach (var w in matrices)
            MatMul.Compute(w, X.AsSpan(0, w.Columns), Y.AsSpan(0, w.Rows), 1, pool);
    }

    private static List<Tensor> Matrices110M()
    {
        var list = new List<Tensor>();
        for (int l = 0; l < 12; l++)
        {
            foreach (var (rows, cols) in new[] { (768, 768), (768, 768), (768, 768), (768, 768), (2048, 768), (2048, 768), (768, 2048) })
                list.Add(Filled(rows, cols));
        }
        list.Add(Filled(32000, 768));
        return list;
    }

    private static Tensor Filled(int rows, int cols)
    {
        var t = Tensor.Zeros("w", rows, cols);
        t.AsFloats().Fill(0.01f);
        return t;
    }
}
