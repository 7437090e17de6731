using Minnow.Models;
using Minnow.Tensors.Kernels;

namespace Minnow.Generation;

/// <summary>A finished beam-search hypothesis: the new tokens and their summed log-probability.</summary>
public sealed record BeamResult(int[] Tokens, double LogProbability, double Score);

/// <summary>
/// Beam search: keeps the <c>beams</c> most probable continuations at each step (each with its own KV cache,
/// forked by copying the parent's), moves those that end in a stop token to a finished list, and returns the
/// hypothesis with the best score = Σ log p / length^lengthPenalty (HF's convention; 0 disables the penalty).
/// With one beam it is greedy decoding; with as many beams as candidate sequences it is exhaustive search.
/// </summary>
public static class BeamSearch
{
    /// <summary>A live hypothesis: its cache (null once no more tokens will be fed), tokens, log-probability and next-token log-probabilities.</summary>
    private sealed record Beam(InferenceState? State, int[] Tokens, double LogProbability, float[]? NextLogProbs);

    /// <summary>
    /// Searches for the best continuation of <paramref name="prompt"/>; <paramref name="stats"/>, when given, receives the
    /// chosen tokens, the finish reason and the prefill/search timings.
    /// </summary>
    public static BeamResult Run(ILanguageModel model, IReadOnlyList<int> prompt, int beams, int maxTokens,
        IReadOnlyCollection<int> stopTokens, double lengthPenalty = 1.0, GenerationStats? stats = null, CancellationToken cancellationToken = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = Search(model, prompt, beams, maxTokens, stopTokens, lengthPenalty, stats, cancellationToken);
        if (stats is not null)
        {
            stats.PromptTokens = prompt.Count;
            stats.DecodeSeconds = clock.Elapsed.TotalSeconds - stats.PrefillSeconds;
            stats.GeneratedIds.AddRange(result.Tokens);
            stats.GeneratedTokens = result.Tokens.Length;
            stats.FinishReason = result.Tokens.Length > 0 && stopTokens.Contains(result.Tokens[^1]) ? FinishReason.Stop : FinishReason.Length;
        }
        return result;
    }

    private static BeamResult Search(ILanguageModel model, IReadOnlyList<int> prompt, int beams, int maxTokens,
        IReadOnlyCollection<int> stopTokens, double lengthPenalty, GenerationStats? stats, CancellationToken cancellationToken)
    {
        if (beams < 1)
            throw new InvalidInputException($"beam count must be at least 1, got {beams}");
        if (maxTokens < 0)
            throw new InvalidInputException($"max tokens must be ≥ 0, got {maxTokens}");
        if (prompt.Count == 0)
            throw new InvalidInputException("the prompt is empty: give at least one token");
        if (prompt.Count > model.Config.ContextLength)
            throw new ContextLengthException(prompt.Count, model.Config.ContextLength);
        int vocab = model.Config.VocabSize;
        double Score(int length, double logProbability) =>
            lengthPenalty == 0 || length == 0 ? logProbability : logProbability / Math.Pow(length, lengthPenalty);

        var logits = new float[vocab];
        var first = model.CreateState();
        var prefill = System.Diagnostics.Stopwatch.StartNew();
        model.Forward(first, prompt.ToArray(), logits);
        if (stats is not null)
            stats.PrefillSeconds = prefill.Elapsed.TotalSeconds;
        var live = new List<Beam> { new(first, [], 0, LogSoftmax(logits)) };
        var finished = new List<BeamResult>();
        var spare = new Stack<InferenceState>();
        // Enough candidates per beam that stop tokens cannot crowd out the continuations.
        int perBeam = Math.Min(vocab, beams + stopTokens.Count);

        for (int step = 0; step < maxTokens && live.Count > 0; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidates = new List<(int Parent, int Token, double LogProbability)>();
            for (int b = 0; b < live.Count; b++)
                foreach (int token in TopIndices(live[b].NextLogProbs!, perBeam))
                    candidates.Add((b, token, live[b].LogProbability + live[b].NextLogProbs![token]));
            // Best first; ties broken by parent then token so the result is deterministic.
            candidates.Sort((x, y) => y.LogProbability.CompareTo(x.LogProbability) is int c && c != 0 ? c
                : x.Parent != y.Parent ? x.Parent.CompareTo(y.Parent) : x.Token.CompareTo(y.Token));

            bool feedMore = step + 1 < maxTokens && live[0].State!.Position < live[0].State!.ContextLength;
            var next = new List<Beam>();
            foreach (var (parent, token, logProbability) in candidates)
            {
                if (next.Count >= beams)
                    break;
                int[] tokens = [.. live[parent].Tokens, token];
                if (stopTokens.Contains(token))
                {
                    finished.Add(new BeamResult(tokens, logProbability, Score(tokens.Length, logProbability)));
                    continue;
                }
                if (!feedMore)
                {
                    next.Add(new Beam(null, tokens, logProbability, null));
                    continue;
                }
                var state = spare.Count > 0 ? spare.Pop() : model.CreateState();
                state.CopyFrom(live[parent].State!);
                model.Forward(state, [token], logits);
                next.Add(new Beam(state, tokens, logProbability, LogSoftmax(logits)));
            }
            foreach (var beam in live)
                if (beam.State is not null)
                    spare.Push(beam.State);
            live = next;
            // HF's early stopping: done once `beams` hypotheses have finished (with one beam this is exactly greedy).
            if (finished.Count >= beams)
                return Best(finished);
        }
        foreach (var beam in live)
            finished.Add(new BeamResult(beam.Tokens, beam.LogProbability, Score(beam.Tokens.Length, beam.LogProbability)));
        return Best(finished);
    }

    private static BeamResult Best(List<BeamResult> finished)
    {
        var best = finished[0];
        foreach (var f in finished)
            if (f.Score > best.Score)
                best = f;
        return best;
    }

    private static float[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        var result = logits.ToArray();
        float max = System.Numerics.Tensors.TensorPrimitives.Max(result);
        double sum = 0;
        foreach (float v in result)
            sum += Math.Exp(v - max);
        float logSum = max + (float)Math.Log(sum);
        System.Numerics.Tensors.TensorPrimitives.Subtract(result, logSum, result);
        return result;
    }

    private static int[] TopIndices(float[] values, int k)
    {
        var indices = new int[values.Length];
        for (int i = 0; i < indices.Length; i++) indices[i] = i;
        Array.Sort(indices, (a, b) => values[b].CompareTo(values[a]) is int c && c != 0 ? c : a.CompareTo(b));
        return indices[..k];
    }
}
