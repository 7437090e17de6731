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
/// with <see cref="SpeedBenchmark"/> (medians of the runs), next to the read bandwidth measured in the same run.
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

        var rows = new List<(string Model, string Type, int Threads, SpeedResult Speed, double Bandwidth)>();
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
                double bandwidth = MachineLimits.ReadBandwidthGBps(threads);
                foreach (var (type, file) in files)
                {
                    using var loaded = ModelLoader.Load(file, new ModelLoadOptions { Threads = threads });
                    var speed = SpeedBenchmark.Run(loaded.Model, threads, prompt, gen, runs);
                    rows.Add((name, type, threads, speed, bandwidth));
                    Console.Error.WriteLine($"{name} {type} threads={threads}: decode {speed.DecodeTokensPerSecond:F1} tok/s");
                }
            }
        }

        Console.WriteLine($"{"model",-10} {"type",-7} {"thr",3} {"weight MB",9} {"prefill tok/s",13} {"decode tok/s",12} {"× f32",6} {"decode GB/s",11} {"read GB/s",9} {"of read",7}");
        foreach (var r in rows)
        {
            var f32 = rows.FirstOrDefault(o => o.Model == r.Model && o.Threads == r.Threads && o.Type == "f32");
            double gbps = r.Speed.WeightBytes * r.Speed.DecodeTokensPerSecond / 1e9;
            string ratio = f32.Speed is null ? "" : $"{r.Speed.DecodeTokensPerSecond / f32.Speed.DecodeTokensPerSecond:F2}";
            Console.WriteLine($"{r.Model,-10} {r.Type,-7} {r.Threads,3} {r.Speed.WeightBytes / 1e6,9:F1} {r.Speed.PrefillTokensPerSecond,13:F1} {r.Speed.DecodeTokensPerSecond,12:F1} {ratio,6} {gbps,11:F2} {r.Bandwidth,9:F2} {100 * gbps / r.Bandwidth,6:F0}%");
        }
        return 0;
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
