using System.Diagnostics;
using Minnow.Models;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// Decode speed against the read bandwidth, robust to a busy machine: 25 rounds, each one pass of the read-bandwidth
/// test followed at once by the bare matrix-vector products of one decode step of a 110M-shaped model (every matrix in
/// forward order, 438 MB, twice) and, given a model file, 4 of its decode steps. Reports medians, and the median of
/// the per-round ratios, so load from other processes hits the baseline and the kernel alike.
/// </summary>
public static class DecodeThroughput
{
    public static int Run(string[] args)
    {
        string? modelPath = args.Length > 0 && args[0].Length > 0 ? args[0] : null;
        int maxThreads = args.Length > 1 ? int.Parse(args[1]) : Environment.ProcessorCount;
        var matrices = Matrices110M();
        long bytes = 0;
        foreach (var m in matrices) bytes += m.ByteLength;
        for (int threads = 1; threads <= maxThreads; threads++)
        {
            using var pool = new WorkerPool(threads);
            using var loaded = modelPath is null ? null : ModelLoader.Load(modelPath, new ModelLoadOptions { Threads = threads });
            var model = loaded?.Model;
            var state = model?.CreateState(Math.Min(model.Config.ContextLength, 256));
            var logits = new float[model?.Config.VocabSize ?? 1];
            model?.Forward(state!, [1, 2, 3, 4], logits);
            MatVecStep(matrices, pool);

            var reads = new List<double>();
            var kernel = new List<double>();
            var kernelRatio = new List<double>();
            var decode = new List<double>();
            var decodeRatio = new List<double>();
            for (int round = 0; round < 25; round++)
            {
                double read = MachineLimits.ReadPassGBps(threads);
                reads.Add(read);
                var clock = Stopwatch.StartNew();
                MatVecStep(matrices, pool);
                MatVecStep(matrices, pool);
                double gbps = 2 * bytes / clock.Elapsed.TotalSeconds / 1e9;
                kernel.Add(gbps);
                kernelRatio.Add(gbps / read);
                if (model is null)
                    continue;
                clock.Restart();
                for (int i = 0; i < 4; i++)
                {
                    if (state!.Position == state.ContextLength) state.Rewind(4);
                    model.Forward(state, [7], logits);
                }
                double tokensPerSecond = 4 / clock.Elapsed.TotalSeconds;
                decode.Add(tokensPerSecond);
                decodeRatio.Add(model.WeightBytesPerToken * tokensPerSecond / 1e9 / read);
            }
            Console.WriteLine($"threads={threads}: read pass {Median(reads):F2} GB/s; bare matvecs {Median(kernel):F2} GB/s, {Median(kernelRatio):P1} of the read pass of the same round");
            if (model is not null)
                Console.WriteLine($"threads={threads}: {Path.GetFileName(modelPath)} decode {Median(decode):F1} tok/s = {model.WeightBytesPerToken * Median(decode) / 1e9:F2} GB/s of weights, {Median(decodeRatio):P1} of the read pass of the same round");
        }
        return 0;
    }

    private static double Median(List<double> values)
    {
        var a = values.ToArray();
        Array.Sort(a);
        return a[a.Length / 2];
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
            foreach (var (rows, cols) in new[] { (768, 768), (768, 768), (768, 768), (768, 768), (2048, 768), (2048, 768), (768, 2048) })
                list.Add(Filled(rows, cols));
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
