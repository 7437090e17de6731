using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Q8_0 on <see cref="Interleaved"/> tiles (AVX-512BW): per block and sixteen rows, eight vectors of four signed quant
/// bytes per row against four activation bytes broadcast, with ggml's sign trick (|w| times x carrying w's sign, so the
/// unsigned-by-signed vpmaddubsw applies); each vpmaddubsw goes through vpmaddwd at once, as two products of 127s can
/// reach 32,258 and a sum of two would overflow 16 bits. Then one multiply by the rows' scales and one multiply-add by
/// the token's.
/// </summary>
internal unsafe struct InterleavedQ8_0Dot : IInterleavedDot
{
    /// <summary>
    /// How far ahead decoding prefetches into L1. SmolLM2-135M Q8_0, same process alternating, 1 / 2 threads: 8 KB 145 /
    /// 240 tok/s, 4 KB 143 / 236, 16 KB 138 / 231, none 128 / 216; into L2 (prefetcht1, which the row kernels use for
    /// Q8_0) 12–16 KB 88–90 / 156–160.
    /// </summary>
    private const int PrefetchAhead = 8192;

    /// <summary>Σ w·x of one vector of signed quants <paramref name="w"/> against four activation bytes at <paramref name="x"/>, in 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot(Vector512<sbyte> w, sbyte* x, Vector512<short> ones)
    {
        var xb = Vector512.Create(*(int*)x).AsSByte();
        var xs = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), -xb, xb);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Abs(w).AsByte(), xs), ones);
    }

    /// <summary>The block's Σ w·x per row: quant vector v against values 4v … 4v+3 (v &lt; 4 from <paramref name="low"/>, the rest from <paramref name="high"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Block(byte* q, sbyte* low, sbyte* high, Vector512<short> ones) =>
        (Dot(Vector512.Load((sbyte*)q), low, ones) + Dot(Vector512.Load((sbyte*)q + 64), low + 4, ones))
        + (Dot(Vector512.Load((sbyte*)q + 128), low + 8, ones) + Dot(Vector512.Load((sbyte*)q + 192), low + 12, ones))
        + (Dot(Vector512.Load((sbyte*)q + 256), high, ones) + Dot(Vector512.Load((sbyte*)q + 320), high + 4, ones))
        + (Dot(Vector512.Load((sbyte*)q + 384), high + 8, ones) + Dot(Vector512.Load((sbyte*)q + 448), high + 12, ones));

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        var ones = Vector512.Create((short)1);
        Vector512<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 32);
            StreamPrefetch.Lines(q + PrefetchAhead, 256);
            StreamPrefetch.Lines(q + PrefetchAhead + 256, 256);
            var sums = Block(q, x + InterleavedTile.LowAt(b, grouped), x + InterleavedTile.HighAt(b, grouped), ones);
            acc = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(sums) * InterleavedTile.Scales(tile + Interleaved.ScalesAt(b, blocks, 32)),
                Vector512.Create(d[b]), acc);
        }
        acc.Store(y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        var a1 = a.Next(1);
        var a2 = a.Next(2);
        var a3 = a.Next(3);
        var ones = Vector512.Create((short)1);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 32);
            int low = InterleavedTile.LowAt(b, grouped), high = InterleavedTile.HighAt(b, grouped);
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int v = 0; v < 8; v++)
            {
                var w = Vector512.Load((sbyte*)q + 64 * v);
                var negative = Vector512.LessThan(w, Vector512<sbyte>.Zero);
                var magnitude = Vector512.Abs(w).AsByte();
                int at = v < 4 ? low + 4 * v : high + 4 * (v - 4);
                s0 += Signed(magnitude, negative, a.Values + at, ones);
                s1 += Signed(magnitude, negative, a1.Values + at, ones);
                s2 += Signed(magnitude, negative, a2.Values + at, ones);
                s3 += Signed(magnitude, negative, a3.Values + at, ones);
            }
            var scales = InterleavedTile.Scales(tile + Interleaved.ScalesAt(b, blocks, 32));
            acc0 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s0) * scales, Vector512.Create(a.Scales[b]), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s1) * scales, Vector512.Create(a1.Scales[b]), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s2) * scales, Vector512.Create(a2.Scales[b]), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s3) * scales, Vector512.Create(a3.Scales[b]), acc3);
        }
        acc0.Store(y);
        acc1.Store(y + stride);
        acc2.Store(y + 2 * stride);
        acc3.Store(y + 3 * stride);
    }

    /// <summary><see cref="Dot"/> with the weights' magnitudes and signs taken apart once for four tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Signed(Vector512<byte> magnitude, Vector512<sbyte> negative, sbyte* x, Vector512<short> ones)
    {
        var xb = Vector512.Create(*(int*)x).AsSByte();
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(magnitude, Vector512.ConditionalSelect(negative, -xb, xb)), ones);
    }
}

/// <summary>
/// <see cref="InterleavedQ8_0Dot"/> on 256-bit AVX2 (and AVX-VNNI CPUs), with vpsignb for the sign trick: decoding takes
/// a tile's two halves of eight rows in one pass; prompts one half after the other, each vector's magnitudes taken once
/// for four tokens.
/// </summary>
internal unsafe struct InterleavedQ8_0Dot256 : IInterleavedDot
{
    private const int PrefetchAhead = 8192;

    /// <summary>Σ w·x of the eight rows' signed quants <paramref name="w"/> against four activation bytes at <paramref name="x"/>, in 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<sbyte> w, Vector256<sbyte> x, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(x, w)), ones);

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        var ones = Vector256.Create((short)1);
        Vector256<float> acc0 = default, acc1 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 32);
            int low = InterleavedTile.LowAt(b, grouped), high = InterleavedTile.HighAt(b, grouped);
            Vector256<int> s0 = default, s1 = default;
            for (int v = 0; v < 8; v++)
            {
                Sse.Prefetch0(q + 64 * v + PrefetchAhead);
                var xb = Vector256.Create(*(int*)(x + (v < 4 ? low + 4 * v : high + 4 * (v - 4)))).AsSByte();
                s0 += Dot(Vector256.Load((sbyte*)q + 64 * v), xb, ones);
                s1 += Dot(Vector256.Load((sbyte*)q + 64 * v + 32), xb, ones);
            }
            byte* scales = tile + Interleaved.ScalesAt(b, blocks, 32);
            var dx = Vector256.Create(d[b]);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s0) * InterleavedTile.Scales256(scales), dx, acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s1) * InterleavedTile.Scales256(scales + 16), dx, acc1);
        }
        acc0.Store(y);
        acc1.Store(y + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        var a1 = a.Next(1);
        var a2 = a.Next(2);
        var a3 = a.Next(3);
        var ones = Vector256.Create((short)1);
        for (int half = 0; half < 2; half++)
        {
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            for (int b = 0; b < blocks; b++)
            {
                byte* q = tile + Interleaved.QuantsAt(b, 32) + 32 * half;
                int low = InterleavedTile.LowAt(b, grouped), high = InterleavedTile.HighAt(b, grouped);
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int v = 0; v < 8; v++)
                {
                    var w = Vector256.Load((sbyte*)q + 64 * v);
                    var magnitude = Avx2.Abs(w);
                    int at = v < 4 ? low + 4 * v : high + 4 * (v - 4);
                    s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(Vector256.Create(*(int*)(a.Values + at)).AsSByte(), w)), ones);
                    s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(Vector256.Create(*(int*)(a1.Values + at)).AsSByte(), w)), ones);
                    s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(Vector256.Create(*(int*)(a2.Values + at)).AsSByte(), w)), ones);
                    s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(Vector256.Create(*(int*)(a3.Values + at)).AsSByte(), w)), ones);
                }
                var scales = InterleavedTile.Scales256(tile + Interleaved.ScalesAt(b, blocks, 32) + 16 * half);
                acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s0) * scales, Vector256.Create(a.Scales[b]), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s1) * scales, Vector256.Create(a1.Scales[b]), acc1);
                acc2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s2) * scales, Vector256.Create(a2.Scales[b]), acc2);
                acc3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s3) * scales, Vector256.Create(a3.Scales[b]), acc3);
            }
            acc0.Store(y + 8 * half);
            acc1.Store(y + stride + 8 * half);
            acc2.Store(y + 2 * stride + 8 * half);
            acc3.Store(y + 3 * stride + 8 * half);
        }
    }
}
