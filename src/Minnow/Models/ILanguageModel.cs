using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Minnow.Tensors;

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

/// <summary>
/// One sequence's KV cache and position. Not shared between threads; copy it to fork a sequence (beam search).
/// The cache grows on demand (doubling, up to <see cref="ContextLength"/>), so a model with a 128k-token context
/// costs memory only for the positions a conversation actually uses.
/// </summary>
public sealed unsafe class InferenceState
{
    private const int InitialCapacity = 256;

    /// <summary>
    /// Keys per layer, [KvHeads, Capacity, HeadDim] (float[] or, for a BF16 cache, ushort[]; pinned): each KV head's
    /// rows are contiguous, so attention streams them in one sequential pass (interleaved heads made it read about three
    /// times slower). Rows below <see cref="Position"/> are filled.
    /// </summary>
    private readonly Array[] _keys;
    /// <summary>Values per layer, same layout as the keys.</summary>
    private readonly Array[] _values;
    internal int Layers => _keys.Length;
    internal int KvHeads { get; }
    internal int HeadDim { get; }
    internal int KvDim => KvHeads * HeadDim;

    /// <summary>How the cache stores keys and values: F32 (exact) or BF16 (half the memory and memory traffic).</summary>
    public DType CacheType { get; }

    /// <summary>Elements past the last row, so vector loads that read ahead (BF16's portable path) stay in the array.</summary>
    private const int Padding = 64;

    /// <summary>Scratch buffers the model keeps between calls (sized for the largest batch seen).</summary>
    internal object? Scratch { get; set; }

    /// <summary>Number of tokens already in the cache; the next token goes here.</summary>
    public int Position { get; private set; }

    /// <summary>Positions the cache can hold at most.</summary>
    public int ContextLength { get; }

    /// <summary>Positions allocated so far.</summary>
    public int Capacity { get; private set; }

    public InferenceState(int layers, int contextLength, int kvHeads, int headDim, DType cacheType = DType.F32)
    {
        if (cacheType is not (DType.F32 or DType.BF16))
            throw new InvalidInputException($"the KV cache can hold F32 or BF16 numbers, not {cacheType}");
        ContextLength = contextLength;
        KvHeads = kvHeads;
        HeadDim = headDim;
        CacheType = cacheType;
        _keys = new Array[layers];
        _values = new Array[layers];
        Grow(Math.Min(contextLength, InitialCapacity));
    }

    /// <summary>Layer <paramref name="layer"/>'s keys (pinned: valid until the cache grows).</summary>
    internal void* Keys(int layer) => Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_keys[layer]));

    /// <summary>Layer <paramref name="layer"/>'s values (pinned: valid until the cache grows).</summary>
    internal void* Values(int layer) => Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_values[layer]));

    private void Grow(int capacity)
    {
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Resized(_keys[l], capacity);
            _values[l] = Resized(_values[l], capacity);
        }
        Capacity = capacity;
    }

    private Array Resized(Array? old, int capacity)
    {
        int length = capacity * KvDim + Padding;
        Array grown = CacheType == DType.BF16 ? GC.AllocateArray<ushort>(length, pinned: true) : GC.AllocateArray<float>(length, pinned: true);
        if (old is not null)
            CopyFilled(old, Capacity, grown, capacity, Position);
        return grown;
    }

    /// <summary>Copies each head's first <paramref name="positions"/> rows between caches of different capacities.</summary>
    private void CopyFilled(Array from, int fromCapacity, Array to, int toCapacity, int positions)
    {
        for (int h = 0; h < KvHeads; h++)
            Array.Copy(from, (long)h * fromCapacity * HeadDim, to, (long)h * toCapacity * HeadDim, (long)positions * HeadDim);
    }

    /// <summary>
    /// Writes the keys and values of <paramref name="tokens"/> tokens ([tokens, KvHeads·HeadDim] rows, as the
    /// projections make them) into layer <paramref name="layer"/> at positions <paramref name="position"/> on,
    /// rounded to BF16 for a BF16 cache.
    /// </summary>
    internal void Store(int layer, int position, int tokens, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < KvHeads; h++)
            {
                int from = t * KvDim + h * HeadDim, to = (h * Capacity + position + t) * HeadDim;
                Put(_keys[layer], to, keys.Slice(from, HeadDim));
                Put(_values[layer], to, values.Slice(from, HeadDim));
            }
    }

    private static void Put(Array cache, int at, ReadOnlySpan<float> row)
    {
        if (cache is float[] floats)
        {
            row.CopyTo(floats.AsSpan(at, row.Length));
            return;
        }
        TensorConvert.SingleToBFloat16(row, ((ushort[])cache).AsSpan(at, row.Length));
    }

    /// <summary>Checks <paramref name="count"/> more tokens fit, grows the cache if needed, then reserves them.</summary>
    internal int Advance(int count)
    {
        if (Position + count > ContextLength)
            throw new ContextLengthException(Position + count, ContextLength);
        if (Position + count > Capacity)
            Grow((int)Math.Min(ContextLength, Math.Max((long)Capacity * 2, Position + count)));
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
        if (other.Layers != Layers || other.KvHeads != KvHeads || other.HeadDim != HeadDim || other.CacheType != CacheType || other.Position > ContextLength)
            throw new InvalidInputException(other.CacheType != CacheType
                ? $"cannot copy an inference state with a {other.CacheType} KV cache into one with a {CacheType} cache"
                : "cannot copy an inference state of a different shape");
        Position = 0;
        if (other.Position > Capacity)
            Grow(Math.Min(ContextLength, Math.Max(other.Position, Capacity * 2)));
        for (int l = 0; l < _keys.Length; l++)
        {
            CopyFilled(other._keys[l], other.Capacity, _keys[l], Capacity, other.Position);
            CopyFilled(other._values[l], other.Capacity, _values[l], Capacity, other.Position);
        }
        Position = other.Position;
    }
}
