using System.Numerics.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Generation;

/// <summary>Chooses next tokens from logits according to <see cref="SamplingOptions"/>; holds the random state of one sequence.</summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Rng _rng;
    private int[] _order = [];
    private float[] _probs = [];

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _rng = new Rng(options.Seed);
    }

    /// <summary>
    /// Picks a token. <paramref name="logits"/> is modified (penalties, temperature). <paramref name="history"/> holds the
    /// prompt and generated ids (for the repeat penalty); <paramref name="generated"/> the generated ids only (for the
    /// frequency/presence penalties).
    /// </summary>
    public int Sample(Span<float> logits, ReadOnlySpan<int> history, ReadOnlySpan<int> generated)
    {
        ApplyPenalties(logits, history, generated);
        if (_options.IsGreedy)
            return ArgMax(logits);

        int n = logits.Length;
        TensorPrimitives.Multiply(logits, 1f / _options.Temperature, logits);
        bool filtered = _options.TopK > 0 || _options.TopP < 1 || _options.MinP > 0;
        if (!filtered)
        {
            Ops.Softmax(logits);
            return SampleFrom(logits, default, n);
        }

        if (_order.Length < n) { _order = new int[n]; _probs = new float[n]; }
        var order = _order.AsSpan(0, n);
        var probs = _probs.AsSpan(0, n);
        for (int i = 0; i < n; i++) order[i] = i;
        // Sort ids by descending logit (ascending negated logit); deterministic for equal input.
        TensorPrimitives.Negate(logits, probs);
        probs.Sort(order);
        int count = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        probs = probs[..count];
        TensorPrimitives.Negate(probs, probs);
        Ops.Softmax(probs);
        if (_options.TopP < 1)
        {
            float cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += probs[i];
                if (cumulative >= _options.TopP) { count = i + 1; break; }
            }
        }
        if (_options.MinP > 0)
        {
            float threshold = _options.MinP * probs[0];
            int keep = 1;
            while (keep < count && probs[keep] >= threshold) keep++;
            count = keep;
        }
        return SampleFrom(probs, order, count);
    }

    /// <summary>Samples index i with probability p[i] / Σ p[0..count); maps through <paramref name="ids"/> when given.</summary>
    private int SampleFrom(ReadOnlySpan<float> p, ReadOnlySpan<int> ids, int count)
    {
        float total = 0;
        for (int i = 0; i < count; i++) total += p[i];
        float r = _rng.NextFloat() * total;
        float cdf = 0;
        for (int i = 0; i < count; i++)
        {
            cdf += p[i];
            if (r < cdf)
                return ids.IsEmpty ? i : ids[i];
        }
        return ids.IsEmpty ? count - 1 : ids[count - 1];
    }

    private void ApplyPenalties(Span<float> logits, ReadOnlySpan<int> history, ReadOnlySpan<int> generated)
    {
        if (_options.RepeatPenalty != 1f && _options.RepeatLastN > 0)
        {
            var recent = history.Length > _options.RepeatLastN ? history[^_options.RepeatLastN..] : history;
            var seen = new HashSet<int>();
            foreach (int id in recent)
            {
                if ((uint)id >= (uint)logits.Length || !seen.Add(id))
                    continue;
                logits[id] = logits[id] > 0 ? logits[id] / _options.RepeatPenalty : logits[id] * _options.RepeatPenalty;
            }
        }
        if (_options.FrequencyPenalty != 0 || _options.PresencePenalty != 0)
        {
            var counts = new Dictionary<int, int>();
            foreach (int id in generated)
                counts[id] = counts.GetValueOrDefault(id) + 1;
            foreach (var (id, c) in counts)
                if ((uint)id < (uint)logits.Length)
                    logits[id] -= c * _options.FrequencyPenalty + _options.PresencePenalty;
        }
    }

    /// <summary>Index of the largest logit; the lowest index wins ties (as llama2.c's argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
}
