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
    private float[] _scratch = [];

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

        if (_order.Length < n) { _order = new int[n]; _probs = new float[n]; _scratch = new float[n]; }
        var all = _probs.AsSpan(0, n);
        logits.CopyTo(all);
        Ops.Softmax(all);
        float maxProb = TensorPrimitives.Max(all);

        // Only tokens at or above a cutoff can survive the filters, so only those are sorted (a few, not the
        // whole vocabulary): the k-th largest probability for top-k; for top-p alone, (1 − p)/(n − 1), since tokens
        // below it together hold less than 1 − p (llama2.c's trick); for min-p, minP × the largest probability.
        float cutoff = 0;
        if (_options.TopK > 0 && _options.TopK < n)
            cutoff = KthLargest(all, _options.TopK);
        else if (_options.TopP < 1 && n > 1)
            cutoff = (1 - _options.TopP) / (n - 1);
        if (_options.MinP > 0)
            cutoff = Math.Max(cutoff, _options.MinP * maxProb);
        cutoff = Math.Min(cutoff, maxProb);
        int candidates = 0;
        var order = _order.AsSpan(0, n);
        for (int i = 0; i < n; i++)
            if (all[i] >= cutoff)
                order[candidates++] = i;
        order = order[..candidates];
        var probs = _scratch.AsSpan(0, candidates);
        // Most likely first; equal probabilities by id, so the order never depends on the sort algorithm.
        var p = _probs;
        order.Sort((a, b) => p[b].CompareTo(p[a]) is int c && c != 0 ? c : a.CompareTo(b));
        for (int i = 0; i < candidates; i++)
            probs[i] = all[order[i]];

        int count = _options.TopK > 0 ? Math.Min(_options.TopK, candidates) : candidates;
        if (_options.TopK > 0)
            TensorPrimitives.Multiply(probs[..count], 1f / TensorPrimitives.Sum(probs[..count]), probs[..count]);
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

    /// <summary>The k-th largest value of <paramref name="values"/> (1-based), by quickselect on a copy: O(n).</summary>
    private float KthLargest(ReadOnlySpan<float> values, int k)
    {
        var a = _scratch.AsSpan(0, values.Length);
        values.CopyTo(a);
        int lo = 0, hi = a.Length - 1, target = k - 1;
        while (lo < hi)
        {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else break;
        }
        return a[target];
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
