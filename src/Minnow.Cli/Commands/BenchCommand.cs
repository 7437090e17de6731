using System.CommandLine;
using Minnow.Evaluation;

namespace Minnow.Cli.Commands;

/// <summary>
/// <c>minnow bench</c>: prompt-processing and decoding speed of a model on this machine, as medians of several runs
/// (see <see cref="SpeedBenchmark"/>). Random prompt tokens, greedy decoding; the text does not matter, only the time.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var model = Cli.ModelOption();
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length processed as one batch (prefill).", DefaultValueFactory = _ => 128, HelpName = "N" };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens decoded one at a time after the prompt.", DefaultValueFactory = _ => 128, HelpName = "N" };
        var runs = new Option<int>("--runs") { Description = "Runs to take the medians over.", DefaultValueFactory = _ => 5, HelpName = "N" };
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var json = Cli.JsonOption();
        var command = new Command("bench",
            "Measure prefill and decode tokens per second (medians of several runs) and the first decoded token of a fresh process.")
        {
            model, promptTokens, genTokens, threads, kvCache, noRepack, runs, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            int threadCount = parse.GetValue(threads);
            using var loaded = Cli.LoadModel(parse.GetValue(model), null, threadCount, parse.GetValue(kvCache), parse.GetValue(noRepack));
            var r = SpeedBenchmark.Run(loaded.Model, threadCount, parse.GetValue(promptTokens), parse.GetValue(genTokens), parse.GetValue(runs), new SyncProgress(Console.Error));
            if (parse.GetValue(json))
            {
                Cli.WriteJson(new
                {
                    r.PrefillTokensPerSecond,
                    r.DecodeTokensPerSecond,
                    r.FirstTokenSeconds,
                    r.Parameters,
                    r.WeightBytes,
                    r.Threads,
                    KvCache = parse.GetValue(kvCache),
                    RepackedWeights = !parse.GetValue(noRepack),
                });
                return 0;
            }
            var c = loaded.Model.Config;
            Console.Out.WriteLine($"model      {loaded.Source}: dim {c.Dim}, hidden {c.HiddenDim}, {c.Layers} layers, {c.Heads} heads, vocab {c.VocabSize}");
            Console.Out.WriteLine($"parameters {r.Parameters:N0}; weights read per token {r.WeightBytes:N0} bytes; {r.Threads} threads; KV cache {parse.GetValue(kvCache)}; quantized weights {(parse.GetValue(noRepack) ? "straight from the file" : "repacked")}");
            Console.Out.WriteLine($"prefill    {r.PrefillTokensPerSecond,10:F1} tok/s  ({1e3 / r.PrefillTokensPerSecond:F3} ms/token, {parse.GetValue(promptTokens)} tokens per batch)");
            Console.Out.WriteLine($"decode     {r.DecodeTokensPerSecond,10:F1} tok/s  ({1e3 / r.DecodeTokensPerSecond:F3} ms/token; weights streamed at {r.WeightBytes * r.DecodeTokensPerSecond / 1e9:F1} GB/s)");
            Console.Out.WriteLine($"first token {r.FirstTokenSeconds * 1e3,9:F3} ms  ({r.FirstTokenSeconds / r.SteadyTokenSeconds:F2}x the steady per-token time)");
            Console.Out.WriteLine($"prefill is {r.PrefillTokensPerSecond / r.DecodeTokensPerSecond:F1}x faster per token than decode");
            return 0;
        }));
        return command;
    }

    /// <summary>Writes progress lines as they come (<see cref="Progress{T}"/> would post them to the thread pool, out of order).</summary>
    private sealed class SyncProgress(TextWriter writer) : IProgress<string>
    {
        public void Report(string value) => writer.WriteLine(value);
    }
}
