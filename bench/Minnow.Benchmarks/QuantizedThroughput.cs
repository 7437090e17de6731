using System.Diagnostics;
using Minnow.Compression.Quantization;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Benchmarks;

/// <summary>
/// `quant-matvec [--threads 1,2] [--types Q8_0,Q4_0] [--paths Avx2,Avx512] [--columns 2048] [--resident]`: GB/s of weight bytes that
/// single-token matrix-vector products stream, per block type and kernel path, as a fraction of the read bandwidth
/// measured in the same run. The matrices (2048×2048 each, about 256 MB in all) are far larger than the caches, so
/// every pass comes from memory as in decoding; with --resident one matrix of about 1 MB is reused instead, which
/// measures the kernel's compute speed alone (fastest pass). --columns sets the row length (768 is the 110M model's
/// width, where per-row costs weigh more than on 2048-long rows).
/// </summary>
public static class QuantizedThroughput
{
    private static readonly DType[] Types = [DType.F32, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q4_K, DType.Q6_K];

    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        int[] threadCounts = Option("--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        var types = Option("--types", string.Join(',', Types)).Split(',').Select(Enum.Parse<DType>).ToArray();
        var wantedPaths = Option("--paths", string.Join(',', Enum.GetValues<QuantizedPath>())).Split(',').Select(Enum.Parse<QuantizedPath>).ToHashSet();
        const int n = 2048;
        int columns = int.Parse(Option("--columns", "2048"));
        long totalBytes = args.Contains("--resident") ? 0 : 256L << 20;
        var rng = new Rng(1);
        var source = new float[n * columns];
        for (int i = 0; i < source.Length; i++) source[i] = rng.NextGaussian();
        var x = new float[columns];
        for (int i = 0; i < columns; i++) x[i] = rng.NextGaussian();
        var y = new float[n];
        var seed = Tensor.FromFloats("w", source, n, columns);
        if (totalBytes == 0)
            seed = seed.RowSlice("w", 0, 512);

        foreach (int threads in threadCounts)
        {
            using var pool = new WorkerPool(threads);
            double bandwidth = MachineLimits.ReadBandwidthGBps(threads);
            Console.WriteLine($"threads={threads} read bandwidth {bandwidth:F2} GB/s");
            foreach (var type in types)
            {
                var one = type == DType.F32 ? seed : Quantizer.Quantize(seed, type);
                int count = (int)Math.Max(1, totalBytes / one.ByteLength);
                // Copies, so the passes really stream from memory rather than one cached matrix.
                var matrices = Enumerable.Range(0, count).Select(_ => Quantizer.Quantize(one, type)).ToArray();
                var paths = type == DType.F32 ? [QuantizedSimd.Active] : Enum.GetValues<QuantizedPath>().Where(p => QuantizedSimd.IsSupported(p) && wantedPaths.Contains(p)).ToArray();
                foreach (var path in paths)
                {
                    var saved = QuantizedSimd.Active;
                    QuantizedSimd.Active = path;
                    int repeats = totalBytes == 0 ? 64 : 1;
                    double seconds = MedianSeconds(() =>
                    {
                        for (int r = 0; r < repeats; r++)
                            foreach (var w in matrices)
                                MatMul.Compute(w, x, y, 1, pool);
                    }, path == QuantizedPath.Scalar ? 1 : 5, best: totalBytes == 0) / repeats;
                    QuantizedSimd.Active = saved;
                    double gbps = count * one.ByteLength / seconds / 1e9;
                    string name = type == DType.F32 ? "f32 kernel" : path.ToString();
                    Console.WriteLine($"  {type,-5} {name,-10} {gbps,7:F2} GB/s  {100 * gbps / bandwidth,5:F0}% of read bandwidth  {count * one.ElementCount / seconds / 1e9,6:F2} G weights/s");
                }
            }
        }
        return 0;
    }

    /// <summary>
    /// Median of <paramref name="runs"/> timings, each the best of three passes, after a second of warm-up passes (so
    /// the kernels run as tier-1 code: tiered compilation promotes them only after some calls and a delay). With
    /// <paramref name="best"/>, the fastest of all passes instead: the compute speed with the least interference from
    /// other processes sharing the cores.
    /// </summary>
    private static double MedianSeconds(Action pass, int runs, bool best = false)
    {
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < 1)
            pass();
        var times = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            double fastest = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                pass();
                fastest = Math.Min(fastest, clock.Elapsed.TotalSeconds);
            }
            times[r] = fastest;
        }
        Array.Sort(times);
        return best ? times[0] : times[runs / 2];
    }
}
