using Minnow.Generation;

namespace Minnow.Training;

/// <summary>
/// Training batches as random contiguous windows of the train split: each sequence starts at a uniformly drawn token
/// and its targets are the inputs shifted by one. The draws come from one seeded <see cref="Rng"/> whose
/// <see cref="State"/> a checkpoint saves, so a resumed run sees the same windows in the same order.
/// </summary>
public sealed class BatchSampler
{
    private readonly TokenShards _shards;
    private readonly int _sequenceLength;
    private Rng _rng;

    public BatchSampler(TokenShards shards, int sequenceLength, ulong seed)
    {
        if (shards.TrainTokens < sequenceLength + 1)
            throw new InvalidInputException($"the train split has {shards.TrainTokens} tokens, fewer than seq-len + 1 = {sequenceLength + 1}: " +
                "use a larger corpus or a shorter --seq-len");
        _shards = shards;
        _sequenceLength = sequenceLength;
        _rng = new Rng(seed);
    }

    /// <summary>The generator's state (the data position of a checkpoint).</summary>
    public ulong State
    {
        get => _rng.State;
        set => _rng = Rng.FromState(value);
    }

    /// <summary>The next <paramref name="sequences"/> windows as one batch.</summary>
    public TokenBatch Next(int sequences)
    {
        int t = _sequenceLength;
        var window = new int[t + 1];
        var inputs = new int[sequences * t];
        var targets = new int[sequences * t];
        ulong starts = (ulong)(_shards.TrainTokens - t);
        for (int s = 0; s < sequences; s++)
        {
            ulong draw = ((ulong)_rng.NextUInt32() << 32) | _rng.NextUInt32();
            _shards.Read(validation: false, (long)(draw % starts), window);
            window.AsSpan(0, t).CopyTo(inputs.AsSpan(s * t));
            window.AsSpan(1, t).CopyTo(targets.AsSpan(s * t));
        }
        return new TokenBatch(inputs, targets, t);
    }

    /// <summary>
    /// The validation batches: consecutive non-overlapping windows from the start of the validation split, at most
    /// <paramref name="maxBatches"/> batches of <paramref name="sequences"/> (the last one may be smaller). The same every time.
    /// </summary>
    public static IEnumerable<TokenBatch> Validation(TokenShards shards, int sequenceLength, int sequences, int maxBatches)
    {
        int t = sequenceLength;
        long windows = Math.Min((shards.ValTokens - 1) / t, (long)sequences * maxBatches);
        var window = new int[t + 1];
        for (long first = 0; first < windows; first += sequences)
        {
            int n = (int)Math.Min(sequences, windows - first);
            var inputs = new int[n * t];
            var targets = new int[n * t];
            for (int s = 0; s < n; s++)
            {
                shards.Read(validation: true, (first + s) * t, window);
                window.AsSpan(0, t).CopyTo(inputs.AsSpan(s * t));
                window.AsSpan(1, t).CopyTo(targets.AsSpan(s * t));
            }
            yield return new TokenBatch(inputs, targets, t);
        }
    }
}
