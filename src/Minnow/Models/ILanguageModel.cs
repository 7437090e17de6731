namespace Minnow.Models;

/// <summary>
/// A causal language model: feeds tokens through the network, appending them to an <see cref="InferenceState"/>'s
/// KV cache, and writes next-token logits. Implementations are thread-safe: concurrent calls on different
/// states are serialised per forward call, so several conversations can share one copy of the weights.
/// </summary>
public interface ILanguageModel : IDisposable
{
    ModelConfig Config { get; }

    /// <summary>Parameters (numbers), counting a tied classifier once.</summary>
    long ParameterCount { get; }

    /// <summary>Bytes of weights read for one decoded token: every matrix the token passes through, including the classifier, excluding the embedding lookup.</summary>
    long WeightBytesPerToken { get; }

    /// <summary>A fresh, empty KV cache holding up to <paramref name="contextLength"/> positions (default: the model's context).</summary>
    InferenceState CreateState(int? contextLength = null);

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions state.Position.. and advances the state. Writes the logits of
    /// the last token into <paramref name="logits"/> (length VocabSize), or, when <paramref name="allPositions"/>,
    /// the logits of every token ([tokens, VocabSize]).
    /// </summary>
    void Forward(InferenceState state, ReadOnlySpan<int> tokens, Span<float> logits, bool allPositions = false);

    /// <summary>
    /// Runs <paramref name="tokens"/> like <see cref="Forward"/> but writes, instead of logits, the final-normalised
    /// hidden state of every token into <paramref name="hidden"/> ([tokens, Dim]): the input of the classifier,
    /// used for embeddings.
    /// </summary>
    void ForwardHidden(InferenceState state, ReadOnlySpan<int> tokens, Span<float> hidden);
}

/// <summary>One sequence's KV cache and position. Not shared between threads; copy it to fork a sequence (beam search).</summary>
public sealed class InferenceState
{
    /// <summary>Keys per layer, [ContextLength, kvDim] row-major.</summary>
    internal float[][] Keys { get; }
    /// <summary>Values per layer, same layout as the keys.</summary>
    internal float[][] Values { get; }
    internal int KvDim { get; }

    /// <summary>Scratch buffers the model keeps between calls (sized for the largest batch seen).</summary>
    internal object? Scratch { get; set; }

    /// <summary>Number of tokens already in the cache; the next token goes here.</summary>
    public int Position { get; private set; }

    /// <summary>Positions the cache holds.</summary>
    public int ContextLength { get; }

    public InferenceState(int layers, int contextLength, int kvDim)
    {
        ContextLength = contextLength;
        KvDim = kvDim;
        Keys = new float[layers][];
        Values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            Keys[l] = GC.AllocateArray<float>(contextLength * kvDim, pinned: true);
            Values[l] = GC.AllocateArray<float>(contextLength * kvDim, pinned: true);
        }
    }

    /// <summary>Checks <paramref name="count"/> more tokens fit, then reserves them.</summary>
    internal int Advance(int count)
    {
        if (Position + count > ContextLength)
            throw new ContextLengthException(Position + count, ContextLength);
        int start = Position;
        Position += count;
        return start;
    }

    /// <summary>Forgets every position from <paramref name="position"/> on (to reuse a shared prefix).</summary>
    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new InvalidInputException($"cannot rewind to position {position}: the cache holds {Position}");
        Position = position;
    }

    /// <summary>Makes this state a copy of <paramref name="other"/> (same model shape), copying only the filled positions.</summary>
    public void CopyFrom(InferenceState other)
    {
        if (other.Keys.Length != Keys.Length || other.KvDim != KvDim || other.Position > ContextLength)
            throw new InvalidInputException("cannot copy an inference state of a different shape");
        int n = other.Position * KvDim;
        for (int l = 0; l < Keys.Length; l++)
        {
            Array.Copy(other.Keys[l], Keys[l], n);
            Array.Copy(other.Values[l], Values[l], n);
        }
        Position = other.Position;
    }
}
