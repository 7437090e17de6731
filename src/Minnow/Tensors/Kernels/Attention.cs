using System.Buffers;

namespace Minnow.Tensors.Kernels;

/// <summary>Where one layer's attention reads and writes: queries, the layer's key/value cache, the output.</summary>
public readonly unsafe struct AttentionInputs
{
    /// <summary>Queries [tokens, heads·headDim], already rotated.</summary>
    public float* Queries { get; init; }
    /// <summary>The layer's key cache [context, kvHeads·headDim]; rows up to startPos+tokens are filled.</summary>
    public float* Keys { get; init; }
    /// <summary>The layer's value cache, same layout as the keys.</summary>
    public float* Values { get; init; }
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

/// <summary>Causal grouped-query attention over a KV cache: each (token, head) pair is independent work.</summary>
public static unsafe class Attention
{
    public static void Compute(in AttentionInputs a, WorkerPool pool)
    {
        var job = new Job(a);
        pool.For(a.Tokens * a.Heads, job.Run);
    }

    private sealed class Job(AttentionInputs a)
    {
        public void Run(int start, int end)
        {
            int qDim = a.Heads * a.HeadDim, kvDim = a.KvHeads * a.HeadDim, group = a.Heads / a.KvHeads;
            float[] scores = ArrayPool<float>.Shared.Rent(a.StartPosition + a.Tokens);
            try
            {
                for (int item = start; item < end; item++)
                {
                    int t = item / a.Heads, h = item % a.Heads;
                    int visible = a.StartPosition + t + 1;
                    int first = a.Window > 0 ? Math.Max(0, visible - a.Window) : 0;
                    int length = visible - first;
                    float* q = a.Queries + (long)t * qDim + h * a.HeadDim;
                    int kvOffset = h / group * a.HeadDim;
                    float* keys = a.Keys + (long)first * kvDim + kvOffset;
                    float* values = a.Values + (long)first * kvDim + kvOffset;
                    var s = scores.AsSpan(0, length);
                    AttentionRows.Scores(q, keys, kvDim, a.HeadDim, a.Scale, s);
                    if (a.SoftCap > 0)
                        Ops.SoftCap(s, a.SoftCap);
                    Ops.Softmax(s);
                    AttentionRows.WeightedSum(s, values, kvDim, a.HeadDim, a.Output + (long)t * qDim + h * a.HeadDim);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        }
    }
}
