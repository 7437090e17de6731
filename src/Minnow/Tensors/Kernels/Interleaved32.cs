using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// A 32-element format on <see cref="Interleaved"/> tiles: how to unpack quant vector v of a block (four quant bytes per
/// row per 32-bit lane) into the values 4v … 4v+3 (<c>low</c>) and 16+4v … 16+4v+3 (<c>high</c>) of each row, byte j
/// of a lane holding value 4v+j: unsigned (Q4_0, Q5_0: u, with the zero point taken off later), or signed (Q8_0).
/// </summary>
internal unsafe interface IInterleaved32
{
    /// <summary>True when the values are signed bytes (multiplied with the sign trick, each product widened at once).</summary>
    static abstract bool Signed { get; }

    /// <summary>The block's bytes after its scale, per row (the copy's vectors per block times 4).</summary>
    static abstract int Body { get; }

    /// <summary>Subtracted from every unsigned value: y = d·Σ (u − ZeroPoint)·x.</summary>
    static abstract int ZeroPoint { get; }

    /// <summary>Vector <paramref name="v"/> (0–3, a constant) of the block whose copy starts at <paramref name="q"/>.</summary>
    static abstract void Unpack(byte* q, int v, out Vector512<byte> low, out Vector512<byte> high);

    /// <summary>The same for one half of the rows (<paramref name="half"/> 0: rows 0–7, 1: rows 8–15).</summary>
    static abstract void Unpack(byte* q, int v, int half, out Vector256<byte> low, out Vector256<byte> high);
}

/// <summary>Q4_0: four vectors of nibbles per block (bytes 4v … 4v+3 of each row's 16: values 4v … in the low nibbles, 16+4v … in the high ones).</summary>
internal unsafe struct InterleavedQ4_0 : IInterleaved32
{
    public static bool Signed => false;
    public static int Body => 16;
    public static int ZeroPoint => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, out Vector512<byte> low, out Vector512<byte> high)
    {
        var bytes = Vector512.Load(q + 64 * v);
        low = bytes & Vector512.Create((byte)0x0F);
        high = Vector512.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector512.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, int half, out Vector256<byte> low, out Vector256<byte> high)
    {
        var bytes = Vector256.Load(q + 64 * v + 32 * half);
        low = bytes & Vector256.Create((byte)0x0F);
        high = Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0F);
    }
}

/// <summary>
/// Q5_0: a vector of fifth bits, then four of nibbles as Q4_0's. The copy stores each row's 32 fifth bits rearranged
/// (<see cref="Interleaved.FifthBits"/>): byte j holds, in bits 0–3, those of values j, 4+j, 8+j, 12+j and, in bits
/// 4–7, those of 16+j, 20+j, 24+j, 28+j — so for vector v one 32-bit shift puts every lane's four low-half bits at bit 4
/// of their bytes (left by 4 − v) and one the high half's (right by v).
/// </summary>
internal unsafe struct InterleavedQ5_0 : IInterleaved32
{
    public static bool Signed => false;
    public static int Body => 20;
    public static int ZeroPoint => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, out Vector512<byte> low, out Vector512<byte> high)
    {
        var fifth = Vector512.Load(q).AsUInt32();
        var bytes = Vector512.Load(q + 64 + 64 * v);
        var nibble = Vector512.Create((byte)0x0F);
        var bit = Vector512.Create((byte)0x10);
        low = (bytes & nibble) | (Vector512.ShiftLeft(fifth, 4 - v).AsByte() & bit);
        high = (Vector512.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & nibble) | (Vector512.ShiftRightLogical(fifth, v).AsByte() & bit);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, int half, out Vector256<byte> low, out Vector256<byte> high)
    {
        var fifth = Vector256.Load(q + 32 * half).AsUInt32();
        var bytes = Vector256.Load(q + 64 + 64 * v + 32 * half);
        var nibble = Vector256.Create((byte)0x0F);
        var bit = Vector256.Create((byte)0x10);
        low = (bytes & nibble) | (Vector256.ShiftLeft(fifth, 4 - v).AsByte() & bit);
        high = (Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & nibble) | (Vector256.ShiftRightLogical(fifth, v).AsByte() & bit);
    }
}

/// <summary>Q8_0: eight vectors of signed quants per block, values 4v … from vector v and 16+4v … from vector v+4.</summary>
internal unsafe struct InterleavedQ8_0 : IInterleaved32
{
    public static bool Signed => true;
    public static int Body => 32;
    public static int ZeroPoint => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, out Vector512<byte> low, out Vector512<byte> high)
    {
        low = Vector512.Load(q + 64 * v);
        high = Vector512.Load(q + 64 * v + 256);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(byte* q, int v, int half, out Vector256<byte> low, out Vector256<byte> high)
    {
        low = Vector256.Load(q + 64 * v + 32 * half);
        high = Vector256.Load(q + 64 * v + 256 + 32 * half);
    }
}

/// <summary>
/// The 32-element formats on <see cref="Interleaved"/> tiles (AVX-512BW): per block and sixteen rows, eight vpmaddubsw
/// of the unpacked values against four activation bytes broadcast. Unsigned values (Q4_0, Q5_0) are summed in 16 bits
/// two vectors at a time (at most 4 · 2 · 31 · 127 = 31,496, so no saturation), then two vpmaddwd and the zero point
/// taken off in integers (−ZeroPoint·Σq); signed ones (Q8_0) go through ggml's sign trick (|w| times x carrying w's
/// sign) and each product through vpmaddwd at once, as two products of 127s can reach 32,258 and a sum of two would
/// overflow 16 bits. Then one multiply by the rows' scales and one multiply-add by the token's. Activations are in the
/// <see cref="QuantizedActivations.Grouped"/> layout.
/// </summary>
internal unsafe struct InterleavedDot512<TF> : IInterleavedDot where TF : IInterleaved32
{
    /// <summary>
    /// How far ahead decoding prefetches into L1 (the next tile's blocks, when near a tile's end). SmolLM2-135M Q4_0,
    /// same process alternating, 1 / 2 threads: 4 KB 228 / 348 tok/s, 8 KB 233 / 366, 12–16 KB alike 8 KB, none 223 /
    /// 323; into L2 (prefetcht1) at 8–16 KB 144 on 1 thread.
    /// </summary>
    private const int PrefetchAhead = 8192;

    /// <summary>Σ (u − ZeroPoint)·x over one block of sixteen rows (lane r = row r) for the token values at <paramref name="low"/> / <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Block(Vector512<byte> l0, Vector512<byte> l1, Vector512<byte> l2, Vector512<byte> l3,
        Vector512<byte> h0, Vector512<byte> h1, Vector512<byte> h2, Vector512<byte> h3, sbyte* low, sbyte* high, int qsum, Vector512<short> ones)
    {
        if (TF.Signed)
            return (Signed(l0, low, ones) + Signed(h0, high, ones)) + (Signed(l1, low + 4, ones) + Signed(h1, high + 4, ones))
                + (Signed(l2, low + 8, ones) + Signed(h2, high + 8, ones)) + (Signed(l3, low + 12, ones) + Signed(h3, high + 12, ones));
        var s = Avx512BW.MultiplyAddAdjacent(l0, Vector512.Create(*(int*)low).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h0, Vector512.Create(*(int*)high).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(l1, Vector512.Create(*(int*)(low + 4)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h1, Vector512.Create(*(int*)(high + 4)).AsSByte());
        var t = Avx512BW.MultiplyAddAdjacent(l2, Vector512.Create(*(int*)(low + 8)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h2, Vector512.Create(*(int*)(high + 8)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(l3, Vector512.Create(*(int*)(low + 12)).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(h3, Vector512.Create(*(int*)(high + 12)).AsSByte());
        return Avx512BW.MultiplyAddAdjacent(s, ones) + Avx512BW.MultiplyAddAdjacent(t, ones) - Vector512.Create(qsum * TF.ZeroPoint);
    }

    /// <summary>Σ w·x of signed quants <paramref name="w"/> against four activation bytes at <paramref name="x"/>, in 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Signed(Vector512<byte> w, sbyte* x, Vector512<short> ones)
    {
        var xb = Vector512.Create(*(int*)x).AsSByte();
        var xs = Vector512.ConditionalSelect(Vector512.LessThan(w.AsSByte(), Vector512<sbyte>.Zero), -xb, xb);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Abs(w.AsSByte()).AsByte(), xs), ones);
    }

    /// <summary>y[r] = row r · a for the tile's sixteen rows (decode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* qsums = a.QSums;
        var ones = Vector512.Create((short)1);
        Vector512<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, TF.Body);
            // A block's 256–512 bytes (StreamPrefetch.Lines takes up to 320 at once).
            StreamPrefetch.Lines(q + PrefetchAhead, Math.Min(16 * TF.Body, 256));
            if (16 * TF.Body > 256)
                StreamPrefetch.Lines(q + PrefetchAhead + 256, 16 * TF.Body - 256);
            TF.Unpack(q, 0, out var l0, out var h0);
            TF.Unpack(q, 1, out var l1, out var h1);
            TF.Unpack(q, 2, out var l2, out var h2);
            TF.Unpack(q, 3, out var l3, out var h3);
            var sums = Block(l0, l1, l2, l3, h0, h1, h2, h3, x + InterleavedTile.LowAt(b, grouped), x + InterleavedTile.HighAt(b, grouped), qsums[b], ones);
            acc = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(sums) * InterleavedTile.Scales(tile + Interleaved.ScalesAt(b, blocks, TF.Body)),
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
        var ones = Vector512.Create((short)1);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, TF.Body);
            TF.Unpack(q, 0, out var l0, out var h0);
            TF.Unpack(q, 1, out var l1, out var h1);
            TF.Unpack(q, 2, out var l2, out var h2);
            TF.Unpack(q, 3, out var l3, out var h3);
            var scales = InterleavedTile.Scales(tile + Interleaved.ScalesAt(b, blocks, TF.Body));
            int low = InterleavedTile.LowAt(b, grouped), high = InterleavedTile.HighAt(b, grouped);
            var s0 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x0 + low, x0 + high, a.QSums[b], ones);
            var s1 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x1 + low, x1 + high, a1.QSums[b], ones);
            var s2 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x2 + low, x2 + high, a2.QSums[b], ones);
            var s3 = Block(l0, l1, l2, l3, h0, h1, h2, h3, x3 + low, x3 + high, a3.QSums[b], ones);
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
/// <see cref="InterleavedDot512{TF}"/> on 256-bit AVX2 (and AVX-VNNI CPUs), signed values with vpsignb: the same
/// tiles, as two halves of eight rows (bytes 0–31 and 32–63 of each 64-byte vector). Decoding takes both halves in one pass, a block's
/// vectors one at a time; prompts take one half after the other, so a block's unpacked values fit the sixteen
/// registers (the second half's loads hit the cache the first one filled).
/// </summary>
internal unsafe struct InterleavedDot256<TF> : IInterleavedDot where TF : IInterleaved32
{
    private const int PrefetchAhead = 8192;

    /// <summary>
    /// Σ w·x of vectors <paramref name="v"/> and v+1 of both halves, in 32-bit lanes (<paramref name="first"/>: rows 0–7,
    /// <paramref name="second"/>: rows 8–15), the four activation broadcasts shared by the halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Two(byte* q, int v, sbyte* low, sbyte* high, Vector256<short> ones, ref Vector256<int> first, ref Vector256<int> second)
    {
        if (TF.Signed)
        {
            // Q8_0: the four lines this step reads (values 4v … from vectors v and v + 1, 16 + 4v … from v + 4 and v + 5).
            Sse.Prefetch0(q + 64 * v + PrefetchAhead);
            Sse.Prefetch0(q + 64 * v + 64 + PrefetchAhead);
            Sse.Prefetch0(q + 64 * v + 256 + PrefetchAhead);
            Sse.Prefetch0(q + 64 * v + 320 + PrefetchAhead);
        }
        var xl0 = Vector256.Create(*(int*)(low + 4 * v)).AsSByte();
        var xh0 = Vector256.Create(*(int*)(high + 4 * v)).AsSByte();
        var xl1 = Vector256.Create(*(int*)(low + 4 * v + 4)).AsSByte();
        var xh1 = Vector256.Create(*(int*)(high + 4 * v + 4)).AsSByte();
        TF.Unpack(q, v, 0, out var l0, out var h0);
        TF.Unpack(q, v + 1, 0, out var l1, out var h1);
        first += Products(l0, l1, h0, h1, xl0, xl1, xh0, xh1, ones);
        TF.Unpack(q, v, 1, out l0, out h0);
        TF.Unpack(q, v + 1, 1, out l1, out h1);
        second += Products(l0, l1, h0, h1, xl0, xl1, xh0, xh1, ones);
    }

    /// <summary>
    /// Σ w·x of two vectors' low values (<paramref name="l0"/>, <paramref name="l1"/>) and high values against their
    /// activation broadcasts: unsigned values summed in 16 bits (at most 31,496) then widened, signed ones widened
    /// product by product.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Products(Vector256<byte> l0, Vector256<byte> l1, Vector256<byte> h0, Vector256<byte> h1,
        Vector256<sbyte> xl0, Vector256<sbyte> xl1, Vector256<sbyte> xh0, Vector256<sbyte> xh1, Vector256<short> ones)
    {
        if (TF.Signed)
            return (Signed(l0, xl0, ones) + Signed(h0, xh0, ones)) + (Signed(l1, xl1, ones) + Signed(h1, xh1, ones));
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(l0, xl0) + Avx2.MultiplyAddAdjacent(h0, xh0)
            + Avx2.MultiplyAddAdjacent(l1, xl1) + Avx2.MultiplyAddAdjacent(h1, xh1), ones);
    }

    /// <summary>The products above with the broadcasts taken from <paramref name="low"/> and <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Products(Vector256<byte> l0, Vector256<byte> l1, Vector256<byte> h0, Vector256<byte> h1,
        sbyte* low, sbyte* high, Vector256<short> ones) =>
        Products(l0, l1, h0, h1, Vector256.Create(*(int*)low).AsSByte(), Vector256.Create(*(int*)(low + 4)).AsSByte(),
            Vector256.Create(*(int*)high).AsSByte(), Vector256.Create(*(int*)(high + 4)).AsSByte(), ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Signed(Vector256<byte> w, Vector256<sbyte> x, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w.AsSByte()), Avx2.Sign(x, w.AsSByte())), ones);

    /// <summary>y[r] = row r · a for the tile's sixteen rows (decode): both halves in one pass over the blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile(byte* tile, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks, grouped = blocks & ~7;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* qsums = a.QSums;
        var ones = Vector256.Create((short)1);
        Vector256<float> acc0 = default, acc1 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = tile + Interleaved.QuantsAt(b, TF.Body);
            if (!TF.Signed)
                StreamPrefetch.Lines(q + PrefetchAhead, 16 * TF.Body);
            sbyte* low = x + InterleavedTile.LowAt(b, grouped), high = x + InterleavedTile.HighAt(b, grouped);
            var zero = Vector256.Create(qsums[b] * TF.ZeroPoint);
            Vector256<int> s0 = default, s1 = default;
            Two(q, 0, low, high, ones, ref s0, ref s1);
            Two(q, 2, low, high, ones, ref s0, ref s1);
            s0 -= zero;
            s1 -= zero;
            var dx = Vector256.Create(d[b]);
            byte* scales = tile + Interleaved.ScalesAt(b, blocks, TF.Body);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s0) * InterleavedTile.Scales256(scales), dx, acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s1) * InterleavedTile.Scales256(scales + 16), dx, acc1);
        }
        acc0.Store(y);
        acc1.Store(y + 8);
    }

    /// <summary>Four tokens (the prompt path): each half block unpacked once for all four.</summary>
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
                byte* q = tile + Interleaved.QuantsAt(b, TF.Body);
                TF.Unpack(q, 0, half, out var l0, out var h0);
                TF.Unpack(q, 1, half, out var l1, out var h1);
                TF.Unpack(q, 2, half, out var l2, out var h2);
                TF.Unpack(q, 3, half, out var l3, out var h3);
                var scales = InterleavedTile.Scales256(tile + Interleaved.ScalesAt(b, blocks, TF.Body) + 16 * half);
                int low = InterleavedTile.LowAt(b, grouped), high = InterleavedTile.HighAt(b, grouped);
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

    /// <summary>One token's block added to <paramref name="acc"/>: Σ (u − ZeroPoint)·x per row (Σ w·x when signed), times d_w·d_x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Token(Vector256<byte> l0, Vector256<byte> l1, Vector256<byte> l2, Vector256<byte> l3,
        Vector256<byte> h0, Vector256<byte> h1, Vector256<byte> h2, Vector256<byte> h3, sbyte* low, sbyte* high, int qsum, float d,
        Vector256<float> scales, Vector256<short> ones, Vector256<float> acc)
    {
        var sums = Products(l0, l1, h0, h1, low, high, ones) + Products(l2, l3, h2, h3, low + 8, high + 8, ones) - Vector256.Create(qsum * TF.ZeroPoint);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums) * scales, Vector256.Create(d), acc);
    }
}
