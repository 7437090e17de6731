using System.Diagnostics;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Evaluation;

/// <summary>Speed of one model on this machine: medians over several runs.</summary>
public sealed record SpeedResult(
    double PrefillTokensPerSecond,
    double DecodeTokensPerSecond,
    double FirstTokenSeconds,
    double SteadyTokenSeconds,
    long Parameters,
    long WeightBytes,
    int Threads);

/// <summary>
/// Measures prompt processing (one batched forward of N random tokens) and decoding (M single-token forwards
/// with greedy sampling). <c>FirstTokenSeconds</c> is the first decode step of the first run — in a fresh process
/// this shows JIT warm-up — while the other figures are medians over the runs.
/// </summary>
public static class SpeedBenchmark
{
    public static SpeedResult Run(ILanguageModel model, int threads, int promptTokens, int genTokens, int runs = 5, IProgress<string>? progress = null)
    {
        if (promptTokens < 1 || genTokens < 1)
            throw new InvalidInputException("benchmark needs at least 1 prompt token and 1 generated token");
        if (promptTokens + genTokens > model.Config.ContextLength)
            throw new ContextLengthException(promptTokens + genTokens, model.Config.ContextLength);
        if (runs < 1)
            throw new InvalidInputException($"runs must be at least 1, got {runs}");

        var rng = new Rng(1234);
        var prompt = new int[promptTokens];
        for (int i = 0; i < prompt.Length; i++)
            prompt[i] = (int)(rng.NextUInt32() % (uint)model.Config.VocabSize);
        var logits = new float[model.Config.VocabSize];
        var prefill = new double[runs];
        var decode = new double[runs];
        double firstToken = 0;
        var state = model.CreateState(promptTokens + genTokens);
        for (int r = 0; r < runs; r++)
        {
            state.Rewind(0);
            var clock = Stopwatch.StartNew();
            model.Forward(state, prompt, logits);
            prefill[r] = clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (int t = 0; t < genTokens; t++)
            {
                var step = Stopwatch.StartNew();
                model.Forward(state, [Sampler.ArgMax(logits)], logits);
                if (r == 0 && t == 0)
                    firstToken = step.Elapsed.TotalSeconds;
            }
            decode[r] = clock.Elapsed.TotalSeconds;
            progress?.Report($"run {r + 1}/{runs}: prefill {promptTokens / prefill[r]:F1} tok/s, decode {genTokens / decode[r]:F1} tok/s");
        }
        double prefillMedian = Median(prefill), decodeMedian = Median(decode);
        return new SpeedResult(promptTokens / prefillMedian, genTokens / decodeMedian, firstToken, decodeMedian / genTokens,
            model.ParameterCount, model.WeightBytesPerToken, threads);
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
