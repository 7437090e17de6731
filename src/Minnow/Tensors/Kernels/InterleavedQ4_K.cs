using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Q4_K on <see cref="Interleaved"/> tiles (AVX-512BW). A super-block of sixteen rows is 2,368 bytes (the rows'
/// 2,304 plus their six-bit scales and mins unpacked to bytes): 32 vectors of nibbles — vector 8p + v holds, in lane r,
/// bytes 32p + 4v … 32p + 4v + 3 of row r's quants, whose low nibbles are values 64p + 4v … (sub-block 2p) and high
/// nibbles values 64p + 32 + 4v … (sub-block 2p + 1) — then the scales (two vectors: lane r = row r's scales 0–3,
/// then 4–7), the mins alike, and the sixteen d and sixteen dmin half floats.
/// <para>
/// Per sub-block: eight vpmaddubsw against four activation bytes broadcast, summed in 16 bits (at most 30,480), one
/// vpmaddwd against the sub-block's scale repeated in both 16-bit halves of each row's lane (one vpshufb of the scale
/// vector), and one vpmaddwd of the min, so repeated, against the sub-block's two activation sums of 16; all integer
/// within the super-block, then y += d_x·(d·Σ − dmin·Σmin) per row.
/// </para>
/// </summary>
internal unsafe struct InterleavedQ4_K : IInterleavedDot
{
    /// <summary>A super-block of sixteen rows in the copy.</summary>
    public const int SuperBlock = 2368;

    internal const int ScalesAt = 2048, MinsAt = 2176, DAt = 2304, DMinAt = 2336;

    /// <summary>
    /// How far ahead decoding prefetches into L1, as the 32-element kernels: a line per vector as it goes (a burst of
    /// the super-block's 37 lines at its start stalled on the full miss queue: 110M Q4_K_M decode fell below the row
    /// kernels').
    /// </summary>
    private const int PrefetchAhead = 8192;

    /// <summary>Repacks 16 consecutive rows of <paramref name="superBlocks"/> Q4_K super-blocks into one tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(byte* rows, int superBlocks, byte* tile)
    {
        for (int r = 0; r < 16; r++)
            for (int s = 0; s < superBlocks; s++)
            {
                byte* to = tile + (long)s * SuperBlock;
                byte* block = rows + ((long)r * superBlocks + s) * 144;
                for (int p = 0; p < 4; p++)
                    for (int v = 0; v < 8; v++)
                        *(uint*)(to + 512 * p + 64 * v + 4 * r) = *(uint*)(block + 16 + 32 * p + 4 * v);
                var packed = new ReadOnlySpan<byte>(block + 4, 12);
                for (int j = 0; j < 8; j++)
                {
                    var (scale, min) = KQuants.ScaleMin(packed, j);
                    to[ScalesAt + 64 * (j >> 2) + 4 * r + (j & 3)] = (byte)scale;
                    to[MinsAt + 64 * (j >> 2) + 4 * r + (j & 3)] = (byte)min;
                }
                ((ushort*)(to + DAt))[r] = *(ushort*)block;
                ((ushort*)(to + DMinAt))[r] = *(ushort*)(block + 2);
            }
    }

    /// <summary>
    /// vpshufb indices that repeat byte (j mod 4) of each 32-bit lane into both 16-bit halves, zero-extended: byte 4i + j,
    /// then a zero (index 0x80), twice, per lane i of each 128-bit lane. Adding j keeps the zeros' top bit.
    /// </summary>
    internal static Vector512<sbyte> Repeat => Vector512.Create(
        0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12, -128,
        0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12, -128,
        0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12, -128,
        0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12, -128);

    /// <summary>Sub-block <paramref name="j"/>'s value of each row (from the four-per-lane bytes <paramref name="v"/>) in both 16-bit halves of its lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Both(Vector512<byte> v, Vector512<sbyte> repeat, int j) =>
        Avx512BW.Shuffle(v, (repeat + Vector512.Create((sbyte)(j & 3))).AsByte()).AsInt16();

    /// <summary>Σ u·x of one chunk pair (sub-blocks 2p and 2p+1) for the token values at <paramref name="x"/> (the pair's 64), in 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(byte* q, sbyte* x, bool prefetch, out Vector512<short> low, out Vector512<short> high)
    {
        var mask = Vector512.Create((byte)0x0F);
        low = default;
        high = default;
        for (int v = 0; v < 8; v++)
        {
            if (prefetch)
                StreamPrefetch.Lines(q + 64 * v + PrefetchAhead, 64);
            var bytes = Vector512.Load(q + 64 * v);
            low += Avx512BW.MultiplyAddAdjacent(bytes & mask, Vector512.Create(*(int*)(x + 4 * v)).AsSByte());
            high += Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask,
                Vector512.Create(*(int*)(x + 32 + 4 * v)).AsSByte());
        }
    }

    /// <summary>One super-block of sixteen rows against one token: d_x·(d·Σⱼ scaleⱼ·Σu·q − dmin·Σⱼ minⱼ·Σq) per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SuperBlockDot(byte* q, sbyte* x, short* sums16, float dx, Vector512<sbyte> repeat, bool prefetch)
    {
        if (prefetch)
            StreamPrefetch.Lines(q + ScalesAt + PrefetchAhead, SuperBlock - ScalesAt);
        Vector512<int> dots = default, mins = default;
        var scalesLow = Vector512.Load(q + ScalesAt);
        var scalesHigh = Vector512.Load(q + ScalesAt + 64);
        var minsLow = Vector512.Load(q + MinsAt);
        var minsHigh = Vector512.Load(q + MinsAt + 64);
        for (int p = 0; p < 4; p++)
        {
            Pair(q + 512 * p, x + 64 * p, prefetch, out var low, out var high);
            var scales = p < 2 ? scalesLow : scalesHigh;
            var m = p < 2 ? minsLow : minsHigh;
            dots += Avx512BW.MultiplyAddAdjacent(low, Both(scales, repeat, 2 * p))
                + Avx512BW.MultiplyAddAdjacent(high, Both(scales, repeat, 2 * p + 1));
            mins += Avx512BW.MultiplyAddAdjacent(Both(m, repeat, 2 * p), Vector512.Create(*(int*)(sums16 + 4 * p)).AsInt16())
                + Avx512BW.MultiplyAddAdjacent(Both(m, repeat, 2 * p + 1), Vector512.Create(*(int*)(sums16 + 4 * p + 2)).AsInt16());
        }
        var d = InterleavedTile.Scales(q + DAt);
        var dmin = InterleavedTile.Scales(q + DMinAt);
        return (Vector512.ConvertToSingle(dots) * d - Vector512.ConvertToSingle(mins) * dmin) * Vector512.Create(dx);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums16 = a.Sums16;
        var repeat = Repeat;
        Vector512<float> acc = default;
        for (int s = 0; s < blocks; s++)
        {
            byte* q = tile + (long)s * SuperBlock;
            acc += SuperBlockDot(q, x + 256 * s, sums16 + 16 * s, d[s], repeat, prefetch: true);
        }
        acc.Store(y);
    }

    /// <summary>Four tokens (the prompt path): each vector of nibbles is unpacked once for all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        var a1 = a.Next(1);
        var a2 = a.Next(2);
        var a3 = a.Next(3);
        var repeat = Repeat;
        var mask = Vector512.Create((byte)0x0F);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int s = 0; s < a.Blocks; s++)
        {
            byte* q = tile + (long)s * SuperBlock;
            sbyte* x0 = a.Values + 256 * s, x1 = a1.Values + 256 * s, x2 = a2.Values + 256 * s, x3 = a3.Values + 256 * s;
            Vector512<int> dots0 = default, dots1 = default, dots2 = default, dots3 = default;
            Vector512<int> mins0 = default, mins1 = default, mins2 = default, mins3 = default;
            for (int p = 0; p < 4; p++)
            {
                Vector512<short> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
                for (int v = 0; v < 8; v++)
                {
                    var bytes = Vector512.Load(q + 512 * p + 64 * v);
                    var low = bytes & mask;
                    var high = Vector512.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
                    int at = 64 * p + 4 * v;
                    Add(low, high, x0 + at, ref l0, ref h0);
                    Add(low, high, x1 + at, ref l1, ref h1);
                    Add(low, high, x2 + at, ref l2, ref h2);
                    Add(low, high, x3 + at, ref l3, ref h3);
                }
                var scales = Vector512.Load(q + ScalesAt + 64 * (p >> 1));
                var m = Vector512.Load(q + MinsAt + 64 * (p >> 1));
                Vector512<short> scLow = Both(scales, repeat, 2 * p), scHigh = Both(scales, repeat, 2 * p + 1);
                Vector512<short> mLow = Both(m, repeat, 2 * p), mHigh = Both(m, repeat, 2 * p + 1);
                dots0 += Avx512BW.MultiplyAddAdjacent(l0, scLow) + Avx512BW.MultiplyAddAdjacent(h0, scHigh);
                dots1 += Avx512BW.MultiplyAddAdjacent(l1, scLow) + Avx512BW.MultiplyAddAdjacent(h1, scHigh);
                dots2 += Avx512BW.MultiplyAddAdjacent(l2, scLow) + Avx512BW.MultiplyAddAdjacent(h2, scHigh);
                dots3 += Avx512BW.MultiplyAddAdjacent(l3, scLow) + Avx512BW.MultiplyAddAdjacent(h3, scHigh);
                mins0 += Mins(mLow, mHigh, a.Sums16 + 16 * s + 4 * p);
                mins1 += Mins(mLow, mHigh, a1.Sums16 + 16 * s + 4 * p);
                mins2 += Mins(mLow, mHigh, a2.Sums16 + 16 * s + 4 * p);
                mins3 += Mins(mLow, mHigh, a3.Sums16 + 16 * s + 4 * p);
            }
            var d = InterleavedTile.Scales(q + DAt);
            var dmin = InterleavedTile.Scales(q + DMinAt);
            acc0 += (Vector512.ConvertToSingle(dots0) * d - Vector512.ConvertToSingle(mins0) * dmin) * Vector512.Create(a.Scales[s]);
            acc1 += (Vector512.ConvertToSingle(dots1) * d - Vector512.ConvertToSingle(mins1) * dmin) * Vector512.Create(a1.Scales[s]);
            acc2 += (Vector512.ConvertToSingle(dots2) * d - Vector512.ConvertToSingle(mins2) * dmin) * Vector512.Create(a2.Scales[s]);
            acc3 += (Vector512.ConvertToSingle(dots3) * d - Vector512.ConvertToSingle(mins3) * dmin) * Vector512.Create(a3.Scales[s]);
        }
        acc0.Store(y);
        acc1.Store(y + stride);
        acc2.Store(y + 2 * stride);
        acc3.Store(y + 3 * stride);
    }

    /// <summary>One token's products with a vector's unpacked low and high nibbles (sub-blocks 2p and 2p + 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(Vector512<byte> low, Vector512<byte> high, sbyte* x, ref Vector512<short> l, ref Vector512<short> h)
    {
        l += Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(*(int*)x).AsSByte());
        h += Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(*(int*)(x + 32)).AsSByte());
    }

    /// <summary>Σ minⱼ·Σq for sub-blocks 2p and 2p + 1, whose four sums of 16 start at <paramref name="sums"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Mins(Vector512<short> low, Vector512<short> high, short* sums) =>
        Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(*(int*)sums).AsInt16()) + Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(*(int*)(sums + 2)).AsInt16());
}

/// <summary>
/// <see cref="InterleavedQ4_K"/> on 256-bit AVX2 (and AVX-VNNI CPUs): each super-block as two halves of eight rows
/// (bytes 0–31 and 32–63 of each vector), one after the other; the second half's loads hit the lines the first
/// brought in. 110M Q4_K on the AVX2 path, old/new build alternating: decode 238/239 -> 289/290 tok/s (1 thread),
/// 421/453 -> 480/521 (2). (Q6_K done the same way lost 20 % in decode, its sixteen-register budget spilling, and
/// keeps the row kernel on AVX2.)
/// </summary>
internal unsafe struct InterleavedQ4_K256 : IInterleavedDot
{
    private const int PrefetchAhead = 8192;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Both(Vector256<byte> v, Vector256<sbyte> repeat, int j) =>
        Avx2.Shuffle(v, (repeat + Vector256.Create((sbyte)(j & 3))).AsByte()).AsInt16();

    /// <summary>One half (eight rows) of a super-block against one token, as <see cref="InterleavedQ4_K"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Half(byte* q, int half, sbyte* x, short* sums16, float dx, Vector256<sbyte> repeat, bool prefetch)
    {
        Vector256<int> dots = default, mins = default;
        byte* h = q + 32 * half;
        var mask = Vector256.Create((byte)0x0F);
        for (int p = 0; p < 4; p++)
        {
            Vector256<short> low = default, high = default;
            for (int v = 0; v < 8; v++)
            {
                if (prefetch)
                    Sse.Prefetch0(q + 512 * p + 64 * v + PrefetchAhead);
                var bytes = Vector256.Load(h + 512 * p + 64 * v);
                low += Avx2.MultiplyAddAdjacent(bytes & mask, Vector256.Create(*(int*)(x + 64 * p + 4 * v)).AsSByte());
                high += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask,
                    Vector256.Create(*(int*)(x + 64 * p + 32 + 4 * v)).AsSByte());
            }
            var scales = Vector256.Load(h + InterleavedQ4_K.ScalesAt + 64 * (p >> 1));
            var m = Vector256.Load(h + InterleavedQ4_K.MinsAt + 64 * (p >> 1));
            dots += Avx2.MultiplyAddAdjacent(low, Both(scales, repeat, 2 * p)) + Avx2.MultiplyAddAdjacent(high, Both(scales, repeat, 2 * p + 1));
            mins += Avx2.MultiplyAddAdjacent(Both(m, repeat, 2 * p), Vector256.Create(*(int*)(sums16 + 4 * p)).AsInt16())
                + Avx2.MultiplyAddAdjacent(Both(m, repeat, 2 * p + 1), Vector256.Create(*(int*)(sums16 + 4 * p + 2)).AsInt16());
        }
        var d = InterleavedTile.Scales256(q + InterleavedQ4_K.DAt + 16 * half);
        var dmin = InterleavedTile.Scales256(q + InterleavedQ4_K.DMinAt + 16 * half);
        return (Vector256.ConvertToSingle(dots) * d - Vector256.ConvertToSingle(mins) * dmin) * Vector256.Create(dx);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        var repeat = InterleavedQ4_K.Repeat.GetLower();
        Vector256<float> acc0 = default, acc1 = default;
        for (int s = 0; s < a.Blocks; s++)
        {
            byte* q = tile + (long)s * InterleavedQ4_K.SuperBlock;
            acc0 += Half(q, 0, a.Values + 256 * s, a.Sums16 + 16 * s, a.Scales[s], repeat, prefetch: true);
            acc1 += Half(q, 1, a.Values + 256 * s, a.Sums16 + 16 * s, a.Scales[s], repeat, prefetch: false);
        }
        acc0.Store(y);
        acc1.Store(y + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        var repeat = InterleavedQ4_K.Repeat.GetLower();
        for (int k = 0; k < 4; k++)
        {
            var t = a.Next(k);
            Vector256<float> acc0 = default, acc1 = default;
            for (int s = 0; s < a.Blocks; s++)
            {
                byte* q = tile + (long)s * InterleavedQ4_K.SuperBlock;
                acc0 += Half(q, 0, t.Values + 256 * s, t.Sums16 + 16 * s, t.Scales[s], repeat, prefetch: false);
                acc1 += Half(q, 1, t.Values + 256 * s, t.Sums16 + 16 * s, t.Scales[s], repeat, prefetch: false);
            }
            acc0.Store(y + k * stride);
            acc1.Store(y + k * stride + 8);
        }
    }
}
