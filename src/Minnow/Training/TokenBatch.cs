namespace Minnow.Training;

/// <summary>
/// One batch of training data: S sequences of T tokens, flattened row by row ([S·T]), and for every input the token
/// that follows it. Sequences are independent (attention never crosses them; positions restart at 0).
/// </summary>
public sealed record TokenBatch
{
    public TokenBatch(int[] inputs, int[] targets, int sequenceLength)
    {
        if (sequenceLength <= 0 || inputs.Length == 0 || inputs.Length % sequenceLength != 0)
            throw new InvalidInputException($"a batch of {inputs.Length} tokens is not a whole number of sequences of {sequenceLength}");
        if (targets.Length != inputs.Length)
            throw new InvalidInputException($"{targets.Length} targets for {inputs.Length} inputs");
        Inputs = inputs;
        Targets = targets;
        SequenceLength = sequenceLength;
    }

    /// <summary>Input token ids [S·T].</summary>
    public int[] Inputs { get; }
    /// <summary>Target token ids [S·T]: the token after each input.</summary>
    public int[] Targets { get; }
    /// <summary>T, tokens per sequence.</summary>
    public int SequenceLength { get; }
    /// <summary>S, the number of sequences.</summary>
    public int Sequences => Inputs.Length / SequenceLength;
    public int Tokens => Inputs.Length;

    /// <summary>Sequences [first, first + count) as a batch of their own (e.g. a micro-batch for gradient accumulation).</summary>
    public TokenBatch Slice(int first, int count) => new(
        Inputs.AsSpan(first * SequenceLength, count * SequenceLength).ToArray(),
        Targets.AsSpan(first * SequenceLength, count * SequenceLength).ToArray(),
        SequenceLength);
}
