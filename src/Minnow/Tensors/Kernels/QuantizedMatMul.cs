using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// y = x·Wᵀ for a block-quantized weight matrix W [out, in] read in place (e.g. straight from a GGUF memory map) and
/// fp32 activations x [tokens, in]. As ggml does, the activations are first quantized to int8 (per 32 values for the
/// 32-element formats, per 256 for K-quants), so the inner loops are integer multiply-adds on the packed weights; the
/// only extra error over dequantize-then-multiply is that int8 rounding of x. Threads split the output rows; each takes
/// tiles of <see cref="RowTile"/> rows and runs every token through a tile before moving on, four tokens per decode of
/// a weight block, so a prompt reads the weights once. On AVX-512 and AVX2 the common formats run on a row-interleaved
/// copy of the matrix (<see cref="Interleaved"/>, <see cref="InterleavedJob{TDot}"/>); the row kernels take the rest.
/// </summary>
public static unsafe class QuantizedMatMul
{
    internal const int RowTile = 16;

    [ThreadStatic] private static QuantizedActivations? _activations;

    /// <summary>
    /// The kernels read <see cref="HalfTable"/>'s static table; initialized before any of them is compiled, the JIT
    /// embeds its address, where otherwise it left a class-initialization check inside the loops (and spilled the
    /// registers around it: the 512-bit K-quant loop kept its accumulator on the stack).
    /// </summary>
    static QuantizedMatMul() => RuntimeHelpers.RunClassConstructor(typeof(HalfTable).TypeHandle);

    /// <summary>True for the block types this kernel multiplies.</summary>
    public static bool Supports(DType type) => type is DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1
        or DType.Q2_K or DType.Q3_K or DType.Q4_K or DType.Q5_K or DType.Q6_K;

    /// <summary>y[t, o] = Σᵢ x[t, i]·W[o, i] for t &lt; tokens.</summary>
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool pool)
    {
        Check(w, x, y, tokens);
        if (tokens <= 0)
            return;
        fixed (float* px = x, py = y)
        {
            var path = QuantizedSimd.Active;
            var activations = Quantize(path, px, tokens, w, pool);
            pool.For(Tiles(w), Rows(path, w, activations, py, pool));
        }
    }

    /// <summary>
    /// y0 = x·W0ᵀ, y1 = x·W1ᵀ and, if <paramref name="w2"/> is given, y2 = x·W2ᵀ (q/k/v, gate/up) in one parallel
    /// section with x quantized once, as <see cref="MatMul"/> does for F32 weights: one dispatch and one wait instead of
    /// two or three. The matrices may be of different block types as long as they quantize activations alike (all
    /// 32-element formats, or all K-quants); otherwise they run one after another. Results equal separate calls'.
    /// </summary>
    public static void Compute(ReadOnlySpan<float> x, int tokens, WorkerPool pool, Tensor w0, Span<float> y0, Tensor w1, Span<float> y1,
        Tensor? w2 = null, Span<float> y2 = default)
    {
        int blockSize = w0.DType.BlockSize();
        if (w1.DType.BlockSize() != blockSize || w1.Columns != w0.Columns
            || (w2 is not null && (w2.DType.BlockSize() != blockSize || w2.Columns != w0.Columns)))
        {
            Compute(w0, x, y0, tokens, pool);
            Compute(w1, x, y1, tokens, pool);
            if (w2 is not null)
                Compute(w2, x, y2, tokens, pool);
            return;
        }
        Check(w0, x, y0, tokens);
        Check(w1, x, y1, tokens);
        if (w2 is not null)
            Check(w2, x, y2, tokens);
        if (tokens <= 0)
            return;
        fixed (float* px = x, p0 = y0, p1 = y1, p2 = y2)
        {
            var path = QuantizedSimd.Active;
            var activations = Quantize(path, px, tokens, w0, pool);
            var rows0 = Rows(path, w0, activations, p0, pool);
            var rows1 = Rows(path, w1, activations, p1, pool);
            var rows2 = w2 is null ? null : Rows(path, w2, activations, p2, pool);
            int tiles0 = Tiles(w0), tiles1 = Tiles(w1), tiles2 = w2 is null ? 0 : Tiles(w2);
            pool.For(tiles0 + tiles1 + tiles2, (start, end) =>
            {
                // Tiles are numbered matrix after matrix; each matrix runs its part of [start, end).
                RunPart(rows0, 0, tiles0, start, end);
                RunPart(rows1, tiles0, tiles1, start, end);
                if (rows2 is not null)
                    RunPart(rows2, tiles0 + tiles1, tiles2, start, end);
            });
        }
    }

    private static void RunPart(RangeAction rows, int first, int count, int start, int end)
    {
        int s = Math.Max(start, first), e = Math.Min(end, first + count);
        if (s < e)
            rows(s - first, e - first);
    }

    private static void Check(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens)
    {
        if (!Supports(w.DType))
            throw Quantizer.Unsupported(w.DType);
        if (x.Length < (long)tokens * w.Columns || y.Length < (long)tokens * w.Rows)
            throw new ArgumentException($"matmul with '{w.Name}' [{w.Rows}, {w.Columns}]: buffers too small for {tokens} tokens");
    }

    private static int Tiles(Tensor w) => (w.Rows + RowTile - 1) / RowTile;

    /// <summary>This thread's activations, quantized from <paramref name="x"/> for <paramref name="w"/>'s block size.</summary>
    private static QuantizedActivations Quantize(QuantizedPath path, float* x, int tokens, Tensor w, WorkerPool pool)
    {
        var activations = _activations ??= new QuantizedActivations();
        activations.Prepare(x, tokens, w.Columns, w.DType.BlockSize(), grouped: path is QuantizedPath.Avx2 or QuantizedPath.AvxVnni or QuantizedPath.Avx512);
        if (tokens >= 2 * pool.Threads)
            pool.For(tokens, activations.Quantize);
        else
            activations.Quantize(0, tokens);
        return activations;
    }

    private static RangeAction Rows(QuantizedPath path, Tensor w, QuantizedActivations a, float* y, WorkerPool pool) => w.DType switch
    {
        DType.Q8_0 when path == QuantizedPath.Avx512 => new InterleavedJob<InterleavedDot512<InterleavedQ8_0>>(w, a, y, pool, Q8_0Rows(path, w, a, y)).Run,
        DType.Q8_0 when path is QuantizedPath.Avx2 or QuantizedPath.AvxVnni => new InterleavedJob<InterleavedDot256<InterleavedQ8_0>>(w, a, y, pool, Rows32<Q8_0Format>(path, w, a, y)).Run,
        DType.Q8_0 => Rows32<Q8_0Format>(path, w, a, y),
        DType.Q4_0 when path == QuantizedPath.Avx512 => new InterleavedJob<InterleavedDot512<InterleavedQ4_0>>(w, a, y, pool,
            Gathers512(path) ? new Job<Block32Dot512<Q4_0Format>>(w, a, y).Run : Rows32<Q4_0Format>(path, w, a, y)).Run,
        DType.Q4_0 when path is QuantizedPath.Avx2 or QuantizedPath.AvxVnni => new InterleavedJob<InterleavedDot256<InterleavedQ4_0>>(w, a, y, pool,
            Rows32<Q4_0Format>(path, w, a, y)).Run,
        DType.Q4_0 => Rows32<Q4_0Format>(path, w, a, y),
        DType.Q4_1 => Rows32<Q4_1Format>(path, w, a, y),
        DType.Q5_0 when path == QuantizedPath.Avx512 => new InterleavedJob<InterleavedDot512<InterleavedQ5_0>>(w, a, y, pool,
            Gathers512(path) ? new Job<Block32Dot512<Q5_0Format>>(w, a, y).Run : Rows32<Q5_0Format>(path, w, a, y)).Run,
        DType.Q5_0 when path is QuantizedPath.Avx2 or QuantizedPath.AvxVnni => new InterleavedJob<InterleavedDot256<InterleavedQ5_0>>(w, a, y, pool,
            Rows32<Q5_0Format>(path, w, a, y)).Run,
        DType.Q5_0 => Rows32<Q5_0Format>(path, w, a, y),
        DType.Q5_1 => Rows32<Q5_1Format>(path, w, a, y),
        DType.Q2_K => RowsK<Q2_KFormat>(path, w, a, y),
        DType.Q3_K => RowsK<Q3_KFormat>(path, w, a, y),
        DType.Q4_K when path == QuantizedPath.Avx512 => new InterleavedJob<InterleavedQ4_K>(w, a, y, pool, RowsK<Q4_KFormat>(path, w, a, y)).Run,
        DType.Q4_K when path is QuantizedPath.Avx2 or QuantizedPath.AvxVnni => new InterleavedJob<InterleavedQ4_K256>(w, a, y, pool, RowsK<Q4_KFormat>(path, w, a, y)).Run,
        DType.Q4_K => RowsK<Q4_KFormat>(path, w, a, y),
        DType.Q5_K => RowsK<Q5_KFormat>(path, w, a, y),
        _ when path == QuantizedPath.Avx512 => new InterleavedJob<InterleavedQ6_K>(w, a, y, pool, RowsK<Q6_KFormat>(path, w, a, y)).Run,
        _ => RowsK<Q6_KFormat>(path, w, a, y),
    };

    private static RangeAction Q8_0Rows(QuantizedPath path, Tensor w, QuantizedActivations a, float* y) => Gathers512(path)
        ? QuantizedSimd.IsSupported(QuantizedPath.AvxVnni) ? new Job<Q8_0Dot512<VnniMac>>(w, a, y).Run : new Job<Q8_0Dot512<Avx2Mac>>(w, a, y).Run
        : Rows32<Q8_0Format>(path, w, a, y);

    /// <summary>True when Q8_0, Q4_0 and Q5_0 run <see cref="Block32Dot512{TF}"/> (Q8_0 in prompts and row streams).</summary>
    private static bool Gathers512(QuantizedPath path) => path == QuantizedPath.Avx512 && Avx512Vbmi.IsSupported;

    private static RangeAction Rows32<TF>(QuantizedPath path, Tensor w, QuantizedActivations a, float* y) where TF : IBlock32 => path switch
    {
        // The other 32-element formats have no 512-bit kernel (see Block32Dot256); AVX-512 CPUs with AVX-VNNI use its multiply.
        QuantizedPath.Avx512 when !QuantizedSimd.IsSupported(QuantizedPath.AvxVnni) => new Job<Block32Dot256<TF, Avx2Mac>>(w, a, y).Run,
        QuantizedPath.Avx512 or QuantizedPath.AvxVnni => new Job<Block32Dot256<TF, VnniMac>>(w, a, y).Run,
        QuantizedPath.Avx2 => new Job<Block32Dot256<TF, Avx2Mac>>(w, a, y).Run,
        QuantizedPath.Portable => new Job<Block32DotPortable<TF>>(w, a, y).Run,
        _ => new Job<DequantizedDot<TF>>(w, a, y).Run,
    };

    private static RangeAction RowsK<TK>(QuantizedPath path, Tensor w, QuantizedActivations a, float* y) where TK : ISuperBlock => path switch
    {
        QuantizedPath.Avx512 => new Job<SuperBlockDot512<TK>>(w, a, y).Run,
        QuantizedPath.AvxVnni => new Job<SuperBlockDot256<TK, VnniMac>>(w, a, y).Run,
        QuantizedPath.Avx2 => new Job<SuperBlockDot256<TK, Avx2Mac>>(w, a, y).Run,
        QuantizedPath.Portable => new Job<SuperBlockDotPortable<TK>>(w, a, y).Run,
        _ => new Job<DequantizedDot<TK>>(w, a, y).Run,
    };

    /// <summary>
    /// One matrix's rows against the quantized activations, by tiles of <see cref="RowTile"/> rows. Tokens take a tile as
    /// one stream of blocks where the kernel can (<see cref="RowStream"/>), else row by row. The kernels
    /// prefetch the weights themselves, a fixed distance ahead of each step (<see cref="StreamPrefetch"/>).
    /// </summary>
    private sealed class Job<TDot>(Tensor w, QuantizedActivations a, float* y) where TDot : IQuantizedDot
    {
        private readonly byte* _w = (byte*)w.Data;
        private readonly long _rowBytes = w.DType.ByteCount(w.Columns);
        private readonly int _outDim = w.Rows;

        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        public void Run(int tileStart, int tileEnd)
        {
            // Locals, so the loops below keep them in registers instead of reloading the fields every pass.
            int tokens = a.Tokens, outDim = _outDim;
            long rowBytes = _rowBytes;
            byte* weights = _w;
            float* output = y;
            for (int tile = tileStart; tile < tileEnd; tile++)
            {
                int r0 = tile * RowTile, r1 = Math.Min(r0 + RowTile, outDim);
                int t = 0;
                for (; t + 4 <= tokens; t += 4)
                {
                    var x = a.Row(t);
                    if (TDot.TryDotRows4(weights + r0 * rowBytes, r1 - r0, x, output + (long)t * outDim + r0, outDim))
                        continue;
                    for (int o = r0; o < r1; o++)
                        TDot.Dot4(weights + o * rowBytes, x, output + (long)t * outDim + o, outDim);
                }
                for (; t < tokens; t++)
                {
                    var x = a.Row(t);
                    float* yt = output + (long)t * outDim;
                    if (TDot.TryDotRows(weights + r0 * rowBytes, r1 - r0, x, yt + r0))
                        continue;
                    int o = r0;
                    for (; o + 2 <= r1; o += 2)
                    {
                        byte* row = weights + o * rowBytes;
                        TDot.DotRows2(row, row + rowBytes, x, yt + o);
                    }
                    for (; o < r1; o++)
                        yt[o] = TDot.Dot1(weights + o * rowBytes, x);
                }
            }
        }
    }
}

/// <summary>
/// A Q4_0, Q5_0, Q8_0, Q4_K or Q6_K matrix on AVX-512, or any of these but Q6_K on AVX2: its whole tiles from the
/// <see cref="Interleaved"/> copy, sixteen rows at once; the last rows that do not fill a tile (all of them, when there
/// is no copy) through <paramref name="rest"/>, the rows' own kernel.
/// </summary>
internal sealed unsafe class InterleavedJob<TDot>(Tensor w, QuantizedActivations a, float* y, WorkerPool pool, RangeAction rest)
    where TDot : IInterleavedDot
{
    private readonly Interleaved _copy = Interleaved.For(w, pool);
    private readonly int _outDim = w.Rows;

    /// <summary>
    /// Never inlined, nor are the kernels: the fused q/k/v and gate/up section calls jobs through delegates, which
    /// tier-1 code with profile data devirtualized and inlined — kernel and all — into the section's lambda, where the
    /// inlining budget ran out and the kernel's per-vector helpers became calls (Q8_0 decode 85 instead of 139 tok/s
    /// in some processes and not others, as the profile happened to fall).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public void Run(int tileStart, int tileEnd)
    {
        int tokens = a.Tokens, outDim = _outDim, whole = Math.Min(tileEnd, _copy.Tiles);
        float* output = y;
        for (int tile = tileStart; tile < whole; tile++)
        {
            byte* packed = _copy.Tile(tile);
            float* yt = output + tile * Interleaved.Rows;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
                TDot.Tile4(packed, a.Row(t), yt + (long)t * outDim, outDim);
            for (; t < tokens; t++)
                TDot.Tile(packed, a.Row(t), yt + (long)t * outDim);
        }
        if (tileEnd > _copy.Tiles)
            rest(Math.Max(tileStart, _copy.Tiles), tileEnd);
    }
}

/// <summary>
/// The scalar twin: dequantize the weight row with the bit-exact reference dequantizer, dequantize the int8
/// activations, and take a plain float dot product in index order.
/// </summary>
internal unsafe struct DequantizedDot<TF> : IQuantizedDot where TF : IQuantFormat
{
    [ThreadStatic] private static float[]? _row;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int n = a.Length;
        if (_row is null || _row.Length < n)
            _row = new float[n];
        var row = _row.AsSpan(0, n);
        Quantizer.Dequantize(TF.Type, new ReadOnlySpan<byte>(w, (int)TF.Type.ByteCount(n)), row);
        sbyte* x = a.Values;
        float* d = a.Scales;
        int blockSize = n / a.Blocks;
        float sum = 0;
        for (int i = 0; i < n; i++)
            sum += row[i] * (x[i] * d[i / blockSize]);
        return sum;
    }

    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride) => OneAtATime.Dot4<DequantizedDot<TF>>(w, a, y, stride);

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => OneAtATime.DotRows2<DequantizedDot<TF>>(row0, row1, a, y);
}
