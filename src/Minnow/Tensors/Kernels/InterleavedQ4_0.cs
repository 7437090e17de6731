using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The kernels on <see cref="Interleaved"/> Q4_0 tiles (AVX-512BW): per block and sixteen rows, eight vpmaddubsw of the
/// unpacked nibbles against four activation bytes broadcast, summed in 16 bits (at most 8 · 2 · 15 · 127 = 30,480, so
/// no saturation), one vpmaddwd, the zero point taken off in integers (−8·Σq), then one multiply by the rows' scales
/// and one multiply-add by the token's. Activations are in the <see cref="QuantizedActivations.Grouped"/> layout.
/// </summary>
internal unsafe struct InterleavedQ4_0Dot : IInterleavedDot
{
    /// <summary>
    /// How far ahead decoding prefetches into L1 (the next tile's blocks, when near a tile's end). SmolLM2-135M Q4_0,
    /// same process alternating, 1 / 2 threads: 4 KB 228 / 348 tok/s, 8 KB 233 / 366, 12–16 KB alike 8 KB, none 223 /
    /// 323; into L2 (prefetcht1) at 8–16 KB 144 on 1 thread.
    /// </summary>
    private const int PrefetchAhead = 8192;

    /// <summary>Where block <paramref name="b"/>'s values 0–15 are in a grouped activation row (values 16–31: <see cref="HighAt"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int LowAt(int b, int grouped) => b < grouped ? 32 * (b & ~7) + 128 * ((b >> 2) & 1) + 16 * (b & 3) : 32 * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int HighAt(int b, int grouped) => b < grouped ? LowAt(b, grouped) + 64 : 32 * b + 16;

    /// <summary>Σ u·x over one block of sixteen rows (lane r = row r), u the unsigned nibbles, x the token's int8 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Block(Vector512<byte> q0, Vector512<byte> q1, Vector512<byte> q2, Vector512<byte> q3,
        Vector512<byte> h0, Vector512<byte> h1, Vector512<byte> h2, Vector512<byte> h3, sbyte* low, sbyte* high, Vector512<short> ones)
    {
        var s = Avx512BW.MultiplyAddAdjacent(q0, Vector512.Create(*(int*)low).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h0, Vector512.Create(*(int*)high).AsSByte());
        s += Avx512BW.MultiplyAddAdjacent(q1, Vector512.Create(*(int*)(low + 4)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h1, Vector512.Create(*(int*)(high + 4)).AsSByte());
        s += Avx512BW.MultiplyAddAdjacent(q2, Vector512.Create(*(int*)(low + 8)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h2, Vector512.Create(*(int*)(high + 8)).AsSByte());
        s += Avx512BW.MultiplyAddAdjacent(q3, Vector512.Create(*(int*)(low + 12)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h3, Vector512.Create(*(int*)(high + 12)).AsSByte());
        return Avx512BW.MultiplyAddAdjacent(s, ones);
    }

    /// <summary>The sixteen rows' half-float scales as floats (see <see cref="HalfTable.FiniteFromHighHalves"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scales(byte* at)
    {
        var bits = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)at)), 16);
        return (Avx512F.ShiftRightArithmetic(bits, 3) & Vector512.Create(unchecked((int)0x8FFFE000))).AsSingle()
            * Vector512.Create((127 + 112) << 23).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* q, Vector512<byte> mask, out Vector512<byte> low, out Vector512<byte> high)
    {
        var v = Vector512.Load(q);
        low = v & mask;
        high = Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
    }

    /// <summary>y[r] = row r · a for the tile's sixteen rows (decode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* qsums = a.QSums;
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        Vector512<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 16);
            StreamPrefetch.Lines(q + PrefetchAhead, 256);
            Unpack(q, mask, out var l0, out var h0);
            Unpack(q + 64, mask, out var l1, out var h1);
            Unpack(q + 128, mask, out var l2, out var h2);
            Unpack(q + 192, mask, out var l3, out var h3);
            var sums = Block(l0, l1, l2, l3, h0, h1, h2, h3, x + LowAt(b, grouped), x + HighAt(b, grouped), ones)
                - Vector512.Create(qsums[b] << 3);
            acc = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(sums) * Scales(tile + Interleaved.ScalesAt(b, blocks, 16)),
                Vector512.Create(d[b]), acc);
        }
        acc.Store(y);
    }

    /// <summary>y[k·stride + r] = row r · token k for four tokens (the prompt path): each block is unpacked once for all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        var a1 = a.Next(1);
        var a2 = a.Next(2);
        var a3 = a.Next(3);
        sbyte* x0 = a.Values, x1 = a1.Values, x2 = a2.Values, x3 = a3.Values;
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 16);
            Unpack(q, mask, out var l0, out var h0);
            Unpack(q + 64, mask, out var l1, out var h1);
            Unpack(q + 128, mask, out var l2, out var h2);
            Unpack(q + 192, mask, out var l3, out var h3);
            var scales = Scales(tile + Interleaved.ScalesAt(b, blocks, 16));
            int low = LowAt(b, grouped), high = HighAt(b, grouped);
            var s0 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x0 + low, x0 + high, ones) - Vector512.Create(a.QSums[b] << 3);
            var s1 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x1 + low, x1 + high, ones) - Vector512.Create(a1.QSums[b] << 3);
            var s2 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x2 + low, x2 + high, ones) - Vector512.Create(a2.QSums[b] << 3);
            var s3 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x3 + low, x3 + high, ones) - Vector512.Create(a3.QSums[b] << 3);
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
}

/// <summary>
/// <see cref="InterleavedQ4_0Dot"/> on 256-bit AVX2 (and AVX-VNNI CPUs): the same tiles, as two halves of eight rows
/// (bytes 0–31 and 32–63 of each 64-byte vector), one after the other, so the unpacked block fits the sixteen
/// registers in prompts (the second half's loads hit the cache the first one filled); decoding takes both halves in
/// one pass, a block's vectors one at a time.
/// </summary>
internal unsafe struct InterleavedQ4_0Dot256 : IInterleavedDot
{
    private const int PrefetchAhead = 8192;

    /// <summary>Eight rows' half-float scales as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scales(byte* at) =>
        HalfTable.FiniteFromHighHalves(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)at), 16));

    /// <summary>y[r] = row r · a for the tile's sixteen rows (decode): both halves in one pass over the blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* qsums = a.QSums;
        var mask = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        Vector256<float> acc0 = default, acc1 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, 16);
            StreamPrefetch.Lines(q + PrefetchAhead, 256);
            sbyte* low = x + InterleavedQ4_0Dot.LowAt(b, grouped), high = x + InterleavedQ4_0Dot.HighAt(b, grouped);
            Vector256<short> s0 = default, s1 = default;
            for (int v = 0; v < 4; v++)
            {
                var xl = Vector256.Create(*(int*)(low + 4 * v)).AsSByte();
                var xh = Vector256.Create(*(int*)(high + 4 * v)).AsSByte();
                var r0 = Vector256.Load(q + 64 * v);
                var r1 = Vector256.Load(q + 64 * v + 32);
                s0 += Avx2.MultiplyAddAdjacent(r0 & mask, xl) + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(r0.AsUInt16(), 4).AsByte() & mask, xh);
                s1 += Avx2.MultiplyAddAdjacent(r1 & mask, xl) + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(r1.AsUInt16(), 4).AsByte() & mask, xh);
            }
            var zero = Vector256.Create(qsums[b] << 3);
            var dx = Vector256.Create(d[b]);
            byte* scales = tile + Interleaved.ScalesAt(b, blocks, 16);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(s0, ones) - zero) * Scales(scales), dx, acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(s1, ones) - zero) * Scales(scales + 16), dx, acc1);
        }
        acc0.Store(y);
        acc1.Store(y + 8);
    }

    /// <summary>Four tokens (the prompt path), as <see cref="InterleavedQ4_0Dot.Tile4"/>: each half block unpacked once for all four.</summary>
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
                byte* q = tile + Interleaved.QuantsAt(b, 16) + 32 * half;
                var mask = Vector256.Create((byte)0x0F);
                var v0 = Vector256.Load(q);
                var v1 = Vector256.Load(q + 64);
                var v2 = Vector256.Load(q + 128);
                var v3 = Vector256.Load(q + 192);
                var (l0, h0) = (v0 & mask, Vector256.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & mask);
                var (l1, h1) = (v1 & mask, Vector256.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & mask);
                var (l2, h2) = (v2 & mask, Vector256.ShiftRightLogical(v2.AsUInt16(), 4).AsByte() & mask);
                var (l3, h3) = (v3 & mask, Vector256.ShiftRightLogical(v3.AsUInt16(), 4).AsByte() & mask);
                var scales = Scales(tile + Interleaved.ScalesAt(b, blocks, 16) + 16 * half);
                int low = InterleavedQ4_0Dot.LowAt(b, grouped), high = InterleavedQ4_0Dot.HighAt(b, grouped);
                acc0 = Token(l0, l1, l2, l3, h0, h1, h2, h3, a.Values + low, a.Values + high, a.QSums[b], a.Scales[b], scales, ones, acc0);
                acc1 = Token(l0, l1, l2, l3, h0, h1, h2, h3, a1.Values + low, a1.Values + high, a1.QSums[b], a1.Scales[b], scales, ones, acc1);
                acc2 = Token(l0, l1, l2, l3, h0, h1, h2, h3, a2.Values + low, a2.Values + high, a2.QSums[b], a2.Scales[b], scales, ones, acc2);
                acc3 = Token(l0, l1, l2, l3, h0, h1, h2, h3, a3.Values + low, a3.Values + high, a3.QSums[b], a3.Scales[b], scales, ones, acc3);
            }
            acc0.Store(y + 8 * half);
            acc1.Store(y + stride + 8 * half);
            acc2.Store(y + 2 * stride + 8 * half);
            acc3.Store(y + 3 * stride + 8 * half);
        }
    }

    /// <summary>One token's block added to <paramref name="acc"/>: Σ (u − 8)·x per row, times d_w·d_x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Token(Vector256<byte> l0, Vector256<byte> l1, Vector256<byte> l2, Vector256<byte> l3,
        Vector256<byte> h0, Vector256<byte> h1, Vector256<byte> h2, Vector256<byte> h3, sbyte* low, sbyte* high, int qsum, float d,
        Vector256<float> scales, Vector256<short> ones, Vector256<float> acc)
    {
        var s = Avx2.MultiplyAddAdjacent(l0, Vector256.Create(*(int*)low).AsSByte()) + Avx2.MultiplyAddAdjacent(h0, Vector256.Create(*(int*)high).AsSByte())
            + Avx2.MultiplyAddAdjacent(l1, Vector256.Create(*(int*)(low + 4)).AsSByte()) + Avx2.MultiplyAddAdjacent(h1, Vector256.Create(*(int*)(high + 4)).AsSByte())
            + Avx2.MultiplyAddAdjacent(l2, Vector256.Create(*(int*)(low + 8)).AsSByte()) + Avx2.MultiplyAddAdjacent(h2, Vector256.Create(*(int*)(high + 8)).AsSByte())
            + Avx2.MultiplyAddAdjacent(l3, Vector256.Create(*(int*)(low + 12)).AsSByte()) + Avx2.MultiplyAddAdjacent(h3, Vector256.Create(*(int*)(high + 12)).AsSByte());
        var sums = Avx2.MultiplyAddAdjacent(s, ones) - Vector256.Create(qsum << 3);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums) * scales, Vector256.Create(d), acc);
    }
}
