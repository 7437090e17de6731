using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Minnow.Tensors.Kernels;

/// <summary>Where one layer's attention reads and writes: queries, the layer's key/value cache, the output.</summary>
public readonly unsafe struct AttentionInputs
{
    /// <summary>Queries [tokens, heads·headDim], already rotated.</summary>
    public float* Queries { get; init; }
    /// <summary>
    /// The layer's key cache [kvHeads, Capacity, headDim] (each KV head's rows contiguous) of <see cref="CacheType"/>
    /// numbers; rows up to startPos+tokens are filled.
    /// </summary>
    public void* Keys { get; init; }
    /// <summary>The layer's value cache, same layout as the keys.</summary>
    public void* Values { get; init; }
    /// <summary>How the cache stores its numbers: F32 (the default) or BF16.</summary>
    public DType CacheType { get; init; }
    /// <summary>Positions per KV head in the cache (rows between one head's first row and the next head's).</summary>
    public int Capacity { get; init; }
    /// <summary>Output [tokens, heads·headDim].</summary>
    public float* Output { get; init; }
    public int Tokens { get; init; }
    /// <summary>Position of the first query token; token t attends to positions 0..startPos+t (causal).</summary>
    public int StartPosition { get; init; }
    public int Heads { get; init; }
    public int KvHeads { get; init; }
    public int HeadDim { get; init; }
    /// <summary>Multiplies q·k (usually 1/sqrt(headDim)).</summary>
    public float Scale { get; init; }
    /// <summary>If &gt; 0, scores become softCap·tanh(score/softCap) (Gemma 2).</summary>
    public float SoftCap { get; init; }
    /// <summary>If &gt; 0, a token at position i attends only to positions j with i − j &lt; Window (sliding-window attention).</summary>
    public int Window { get; init; }
}

/// <summary>
/// Causal grouped-query attention over a KV cache. The work items are (token, KV head) pairs: the query heads that share
/// a KV head are done together, so each cached key and value row is read from memory once per token instead of once per
/// query head, and used by all the group's heads while it is in registers (up to four heads at once; keys and values are
/// walked in blocks small enough to stay in cache for the rest). When there are too few pairs to keep the threads busy
/// (decoding), each pair's positions are also split into chunks: a chunk keeps its softmax unnormalized with its max
/// and sum, and the chunks are merged afterwards. The split depends only on the shapes, never on the thread count, so
/// results are the same for any number of threads.
/// </summary>
public static unsafe class Attention
{
    /// <summary>Cached positions whose keys (then values) a group's query heads go through before the next ones.</summary>
    private const int Block = 256;
    /// <summary>With fewer (token, KV head) pairs than this, positions are split into chunks.</summary>
    private const int SplitBelow = 16;
    /// <summary>
    /// A split pair's positions go in equal chunks of more than MinChunk/2 and at most MinChunk positions (longer ones
    /// past MaxChunks chunks). Measured on the SmolLM2 shape at a 1300-token context: chunks of ~430 positions read the
    /// cache ~20 % faster than chunks of 128 on 1 and 2 threads (each chunk is a new stream for the prefetchers).
    /// </summary>
    private const int MinChunk = 512, MaxChunks = 16;

    public static void Compute(in AttentionInputs a, WorkerPool pool)
    {
        var job = new Job(a);
        try
        {
            pool.For(job.Items, job.Run);
            job.Merge();
        }
        finally
        {
            job.Release();
        }
    }

    private sealed class Job
    {
        private readonly AttentionInputs _a;
        private readonly int _group, _qDim, _partialSize;
        /// <summary>Positions per chunk (int.MaxValue when pairs are not split).</summary>
        private readonly int _chunk;
        /// <summary>When split: the first item of each token, and one past the last item at [Tokens].</summary>
        private readonly int[]? _firstItem;
        /// <summary>Per item and query head of its group: max, sum, then the unnormalized output row.</summary>
        private float* _partials;

        public int Items { get; }

        public Job(in AttentionInputs a)
        {
            if (a.CacheType is not (DType.F32 or DType.BF16))
                throw new ArgumentException($"attention reads an F32 or BF16 cache, not {a.CacheType}");
            _a = a;
            _group = a.Heads / a.KvHeads;
            _qDim = a.Heads * a.HeadDim;
            _partialSize = a.HeadDim + 2;
            if (a.Tokens * a.KvHeads >= SplitBelow)
            {
                _chunk = int.MaxValue;
                Items = a.Tokens * a.KvHeads;
                return;
            }
            int longest = Length(a.Tokens - 1), count = Math.Clamp((longest + MinChunk - 1) / MinChunk, 1, MaxChunks);
            _chunk = (longest + count - 1) / count;
            _firstItem = new int[a.Tokens + 1];
            for (int t = 0; t < a.Tokens; t++)
                _firstItem[t + 1] = _firstItem[t] + Chunks(t) * a.KvHeads;
            Items = _firstItem[a.Tokens];
            if (Items > a.Tokens * a.KvHeads)
                _partials = (float*)NativeMemory.Alloc((nuint)((long)Items * _group * _partialSize), sizeof(float));
        }

        /// <summary>The first position token t sees.</summary>
        private int First(int t) => _a.Window > 0 ? Math.Max(0, _a.StartPosition + t + 1 - _a.Window) : 0;

        /// <summary>How many positions token t sees.</summary>
        private int Length(int t) => _a.StartPosition + t + 1 - First(t);

        private int Chunks(int t) => _chunk == int.MaxValue ? 1 : (Length(t) + _chunk - 1) / _chunk;

        /// <summary>Item → token, KV head, chunk, and the token's chunk count.</summary>
        private (int T, int KvHead, int Chunk, int Chunks) Locate(int item)
        {
            if (_firstItem is null)
                return (item / _a.KvHeads, item % _a.KvHeads, 0, 1);
            int t = 0;
            while (_firstItem[t + 1] <= item)
                t++;
            int chunks = Chunks(t), local = item - _firstItem[t];
            return (t, local / chunks, local % chunks, chunks);
        }

        public void Run(int start, int end)
        {
            if (_a.CacheType == DType.BF16)
                Run<ushort, Bf16Kv>(start, end);
            else
                Run<float, F32Kv>(start, end);
        }

        private void Run<T, TKv>(int start, int end) where T : unmanaged where TKv : IKvElement<T>
        {
            int hd = _a.HeadDim, g = _group;
            int longest = Math.Min(_chunk, Length(_a.Tokens - 1));
            float[] buffer = ArrayPool<float>.Shared.Rent(g * (longest + 1));
            try
            {
                fixed (float* scores = buffer)
                {
                    float* sums = scores + g * longest;
                    for (int item = start; item < end; item++)
                    {
                        var (t, kvHead, chunk, chunks) = Locate(item);
                        int p0 = First(t) + chunk * _chunk;
                        int n = Math.Min(_a.StartPosition + t + 1 - p0, _chunk);
                        float* q = _a.Queries + (long)t * _qDim + kvHead * g * hd;
                        long row = ((long)kvHead * _a.Capacity + p0) * hd;
                        T* keys = (T*)_a.Keys + row, values = (T*)_a.Values + row;

                        for (int b = 0; b < n; b += Block)
                            AttentionRows.Scores<T, TKv>(q, g, hd, keys + (long)b * hd, hd, hd, _a.Scale, scores + b, n, Math.Min(Block, n - b));
                        for (int r = 0; r < g; r++)
                        {
                            var s = new Span<float>(scores + r * n, n);
                            if (_a.SoftCap > 0)
                                Ops.SoftCap(s, _a.SoftCap);
                            var (max, sum) = Ops.ExpShifted(s);
                            sums[r] = sum;
                            float* o = Out(item, t, kvHead, r, chunks);
                            new Span<float>(o, hd).Clear();
                            if (chunks > 1)
                            {
                                o[-2] = max;
                                o[-1] = sum;
                            }
                        }
                        int outStride = chunks == 1 ? hd : _partialSize;
                        for (int b = 0; b < n; b += Block)
                            AttentionRows.WeightedSum<T, TKv>(scores + b, n, g, Math.Min(Block, n - b), values + (long)b * hd, hd, hd,
                                Out(item, t, kvHead, 0, chunks), outStride);
                        if (chunks == 1)
                            for (int r = 0; r < g; r++)
                                Ops.Scale(new Span<float>(Out(item, t, kvHead, r, chunks), hd), 1f / sums[r]);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }

        /// <summary>Where query head r of the group writes: the output row, or the item's partial when split.</summary>
        private float* Out(int item, int t, int kvHead, int r, int chunks)
        {
            if (chunks == 1)
                return _a.Output + (long)t * _qDim + (kvHead * _group + r) * _a.HeadDim;
            return _partials + ((long)item * _group + r) * _partialSize + 2;
        }

        /// <summary>Each split (token, head): output = Σ_c e^(m_c − M)·o_c / Σ_c e^(m_c − M)·l_c, chunks in order.</summary>
        public void Merge()
        {
            if (_partials == null)
                return;
            int hd = _a.HeadDim;
            for (int t = 0; t < _a.Tokens; t++)
            {
                int chunks = Chunks(t);
                if (chunks == 1)
                    continue;
                for (int h = 0; h < _a.Heads; h++)
                {
                    int kvHead = h / _group, r = h % _group;
                    var output = new Span<float>(_a.Output + (long)t * _qDim + h * hd, hd);
                    float max = float.NegativeInfinity, total = 0;
                    for (int c = 0; c < chunks; c++)
                        max = Math.Max(max, Partial(t, kvHead, c, chunks, r)[0]);
                    for (int c = 0; c < chunks; c++)
                    {
                        var p = Partial(t, kvHead, c, chunks, r);
                        total += MathF.Exp(p[0] - max) * p[1];
                    }
                    for (int c = 0; c < chunks; c++)
                    {
                        var p = Partial(t, kvHead, c, chunks, r);
                        float weight = MathF.Exp(p[0] - max) / total;
                        if (c == 0)
                            TensorPrimitives.Multiply(p[2..], weight, output);
                        else
                            TensorPrimitives.MultiplyAdd(p[2..], weight, output, output);
                    }
                }
            }
        }

        private ReadOnlySpan<float> Partial(int t, int kvHead, int chunk, int chunks, int r) =>
            new(_partials + ((long)(_firstItem![t] + kvHead * chunks + chunk) * _group + r) * _partialSize, _partialSize);

        public void Release()
        {
            NativeMemory.Free(_partials);
            _partials = null;
        }
    }
}
