using Minnow.Compression.Quantization;
using Minnow.Evaluation;
using Minnow.Formats.Gguf;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Benchmarks;

/// <summary>
/// `quant-decode MODEL... [--types f32,q8_0,q4_0,q4_k_m] [--threads 1,2] [--prompt 32] [--gen 64] [--runs 5] [--dir DIR]`:
/// converts each Llama-family model (llama2.c checkpoint or HF folder) to GGUF files of each type, loads them through
/// <see cref="ModelLoader"/> (weights memory-mapped, quantized blocks used in place) and measures prefill and decode
/// with <see cref="SpeedBenchmark"/> in rounds — every type once per round, after a read-bandwidth pass — so each
/// ratio (to F32, to the bandwidth) is taken within one round and the table shows the medians over rounds.
/// Decode reads every weight once per token, so weight_bytes × tokens/s is the bandwidth decoding achieves.
/// Files are written as `minnow convert --type` writes them (<see cref="GgufModelWriter"/> with a <see cref="QuantizationMix"/>).
/// </summary>
public static class QuantizedDecode
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var options = new HashSet<string> { "--types", "--threads", "--prompt", "--gen", "--runs", "--dir" };
        var models = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || !options.Contains(args[i - 1]))).ToList();
        var types = Option("--types", "f32,q8_0,q4_0,q4_k_m").Split(',');
        var threadCounts = Option("--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int prompt = int.Parse(Option("--prompt", "32")), gen = int.Parse(Option("--gen", "64")), runs = int.Parse(Option("--runs", "5"));
        string dir = Option("--dir", Path.Combine(Path.GetTempPath(), "minnow-quant-decode"));
        Directory.CreateDirectory(dir);

        var rows = new List<Row>();
        foreach (string model in models)
        {
            string name = Path.GetFileNameWithoutExtension(model.TrimEnd('/'));
            var files = types.ToDictionary(t => t, t => Path.Combine(dir, $"{name}-{t}.gguf"));
            using (var source = ModelLoader.Load(model, new ModelLoadOptions { Threads = 2 }))
                foreach (var (type, file) in files)
                    if (!File.Exists(file))
                    {
                        Console.Error.WriteLine($"converting {model} to {type} …");
                        GgufModelWriter.Write(file, source.Model, QuantizationMix.Parse(type), [], Path.GetFileNameWithoutExtension(file));
                        Console.Error.WriteLine($"  max |Δlogit| against the source: {MaxLogitDifference(source.Model, file):E2}");
                    }
            foreach (int threads in threadCounts)
            {
                var loaded = types.Select(t => ModelLoader.Load(files[t], new ModelLoadOptions { Threads = threads })).ToArray();
                try
                {
                    foreach (var l in loaded)
                        SpeedBenchmark.Run(l.Model, threads, prompt, gen, runs: 1);
                    // Rounds: each type once per round next to a read-bandwidth pass, so the ratios compare figures taken
                    // minutes apart at most seconds apart (this VM's speed drifts by a third between minutes).
                    var speeds = new SpeedResult[runs, types.Length];
                    var bandwidths = new double[runs];
                    for (int r = 0; r < runs; r++)
                    {
                        bandwidths[r] = MachineLimits.ReadBandwidthGBps(threads);
                        for (int i = 0; i < types.Length; i++)
                            speeds[r, i] = SpeedBenchmark.Run(loaded[i].Model, threads, prompt, gen, runs: 1);
                        Console.Error.WriteLine($"{name} threads={threads} round {r + 1}/{runs}: read {bandwidths[r]:F1} GB/s, decode " +
                            string.Join(", ", types.Select((t, i) => $"{t} {speeds[r, i].DecodeTokensPerSecond:F1}")) + " tok/s");
                    }
                    int f32 = Array.IndexOf(types, "f32");
                    for (int i = 0; i < types.Length; i++)
                    {
                        var round = Enumerable.Range(0, runs).ToArray();
                        double Gbps(int r) => speeds[r, i].WeightBytes * speeds[r, i].DecodeTokensPerSecond / 1e9;
                        rows.Add(new Row(name, types[i], threads, speeds[0, i].WeightBytes,
                            Median(round.Select(r => speeds[r, i].PrefillTokensPerSecond)), Median(round.Select(r => speeds[r, i].DecodeTokensPerSecond)),
                            f32 < 0 ? double.NaN : Median(round.Select(r => speeds[r, i].DecodeTokensPerSecond / speeds[r, f32].DecodeTokensPerSecond)),
                            f32 < 0 ? double.NaN : round.Max(r => speeds[r, i].DecodeTokensPerSecond / speeds[r, f32].DecodeTokensPerSecond),
                            Median(round.Select(Gbps)), Median(bandwidths), Median(round.Select(r => Gbps(r) / bandwidths[r]))));
                    }
                }
                finally
                {
                    foreach (var l in loaded)
                        l.Dispose();
                }
            }
        }

        Console.WriteLine("Medians over rounds; × f32 and \"of read\" are medians of same-round ratios, \"best ×\" the highest same-round ratio.");
        Console.WriteLine($"{"model",-10} {"type",-7} {"thr",3} {"weight MB",9} {"prefill tok/s",13} {"decode tok/s",12} {"× f32",6} {"best ×",6} {"decode GB/s",11} {"read GB/s",9} {"of read",7}");
        static string Ratio(double value) => double.IsNaN(value) ? "" : value.ToString("F2");
        foreach (var r in rows)
            Console.WriteLine($"{r.Model,-10} {r.Type,-7} {r.Threads,3} {r.WeightBytes / 1e6,9:F1} {r.Prefill,13:F1} {r.Decode,12:F1} {Ratio(r.TimesF32),6} {Ratio(r.BestTimesF32),6} {r.DecodeGbps,11:F2} {r.ReadGbps,9:F2} {100 * r.OfRead,6:F0}%");
        return 0;
    }

    private sealed record Row(string Model, string Type, int Threads, long WeightBytes, double Prefill, double Decode, double TimesF32,
        double BestTimesF32, double DecodeGbps, double ReadGbps, double OfRead);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Largest logit difference between the source model and the converted file on a short random prompt.</summary>
    private static double MaxLogitDifference(ILanguageModel source, string file)
    {
        using var converted = ModelLoader.Load(file, new ModelLoadOptions { Threads = 2 });
        var rng = new Rng(7);
        var ids = Enumerable.Range(0, 8).Select(_ => (int)(rng.NextUInt32() % (uint)source.Config.VocabSize)).ToArray();
        var a = new float[source.Config.VocabSize];
        var b = new float[source.Config.VocabSize];
        source.Forward(source.CreateState(), ids, a);
        converted.Model.Forward(converted.Model.CreateState(), ids, b);
        return a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    }
}
