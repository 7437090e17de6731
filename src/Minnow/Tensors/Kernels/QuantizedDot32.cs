using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Dot products of quantized weight rows with quantized activations: one row and one token (<see cref="Dot1"/>), one
/// row and four consecutive tokens (<see cref="Dot4"/>, which decodes each weight block once for all four — the
/// prompt path), and eight consecutive rows and one token (<see cref="Rows8"/> — the decode path).
/// </summary>
internal unsafe interface IQuantizedDot
{
    static abstract float Dot1(byte* row, QuantizedActivations a, int t);

    /// <summary>y[k·stride] = row · token t+k, k &lt; 4.</summary>
    static abstract void Dot4(byte* row, QuantizedActivations a, int t, float* y, int stride);

    /// <summary>y[k] = row k · token t, k &lt; 8, for rows <paramref name="rowBytes"/> apart.</summary>
    static abstract void Rows8(byte* rows, long rowBytes, QuantizedActivations a, int t, float* y);
}

/// <summary>The fallbacks of paths without their own batch or multi-row kernel: one dot product at a time.</summary>
internal static unsafe class OneAtATime
{
    public static void Dot4<TDot>(byte* w, QuantizedActivations a, int t, float* y, int stride) where TDot : IQuantizedDot
    {
        for (int k = 0; k < 4; k++)
            y[k * stride] = TDot.Dot1(w, a, t + k);
    }

    public static void Rows8<TDot>(byte* w, long rowBytes, QuantizedActivations a, int t, float* y) where TDot : IQuantizedDot
    {
        for (int k = 0; k < 8; k++)
            y[k] = TDot.Dot1(w + k * rowBytes, a, t);
    }
}

/// <summary>
/// 32-element formats on 256-bit vectors, AVX2 or AVX-VNNI. Per block: 32 unsigned weights × 32 int8 activations
/// summed in integers, minus the zero point times Σq, converted once and scaled by d_w·d_x; a min (Q4_1/Q5_1) adds
/// m·d_x·Σq. Q8_0's signed weights take ggml's sign trick (|w| × sign(w)·x) so the unsigned-by-signed multiply applies.
/// <see cref="Rows8"/> packs two rows' blocks per vector (one per 128-bit half), reduces eight rows' sums into one vector
/// with three horizontal adds, gathers the eight rows' scales, and does the float work once for all eight.
/// </summary>
internal unsafe struct Block32Dot256<TF, TMac> : IQuantizedDot where TF : IBlock32 where TMac : IMac
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Unsigned(byte* w)
    {
        TF.Unsigned(w, out var low, out var high);
        return Vector256.Create(low, high);
    }

    /// <summary>Σ w·x of one block in integers, zero point not yet removed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Dot(Vector256<byte> u, sbyte* x)
    {
        var xv = Vector256.Load(x);
        return TF.Signed
            ? TMac.Dot(Vector256<int>.Zero, Avx2.Abs(u.AsSByte()), Avx2.Sign(xv, u.AsSByte()))
            : TMac.Dot(Vector256<int>.Zero, u, xv);
    }

    /// <summary>The float value of one block's dot product (the part in d_w·d_x, and the min's part).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Offset(byte* w, float dx, float sum, int qsum) =>
        (TF.HasMin ? HalfTable.At(w + 2) * sum : 0) - (TF.ZeroPoint != 0 ? HalfTable.At(w) * dx * (TF.ZeroPoint * qsum) : 0);

    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        var acc = Vector256<float>.Zero;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(Unsigned(w), x)), Vector256.Create(HalfTable.At(w) * d[b]), acc);
            offset += Offset(w, d[b], s[b], q[b]);
        }
        return Vector256.Sum(acc) + offset;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / 32, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            var u = Unsigned(w);
            float scale = HalfTable.At(w);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(u, x)), Vector256.Create(scale * d[b]), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(u, x + n)), Vector256.Create(scale * d[blocks + b]), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(u, x + 2 * n)), Vector256.Create(scale * d[2 * blocks + b]), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(u, x + 3 * n)), Vector256.Create(scale * d[3 * blocks + b]), acc3);
            o0 += Offset(w, d[b], s[b], q[b]);
            o1 += Offset(w, d[blocks + b], s[blocks + b], q[blocks + b]);
            o2 += Offset(w, d[2 * blocks + b], s[2 * blocks + b], q[2 * blocks + b]);
            o3 += Offset(w, d[3 * blocks + b], s[3 * blocks + b], q[3 * blocks + b]);
        }
        y[0] = Vector256.Sum(acc0) + o0;
        y[stride] = Vector256.Sum(acc1) + o1;
        y[2 * stride] = Vector256.Sum(acc2) + o2;
        y[3 * stride] = Vector256.Sum(acc3) + o3;
    }

    /// <summary>Rows a and b of one block: lanes 0–3 sum to a's Σw·x, lanes 4–7 to b's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairDot(byte* a, byte* b, Vector256<sbyte> xLow, Vector256<sbyte> xHigh)
    {
        TF.Pair(a, b, out var low, out var high);
        if (!TF.Signed)
            return TMac.Dot2(low, xLow, high, xHigh);
        var sum = TMac.Dot(Vector256<int>.Zero, Avx2.Abs(low.AsSByte()), Avx2.Sign(xLow, low.AsSByte()));
        return TMac.Dot(sum, Avx2.Abs(high.AsSByte()), Avx2.Sign(xHigh, high.AsSByte()));
    }

    public static void Rows8(byte* w, long rowBytes, QuantizedActivations a, int t, float* y)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        long r = rowBytes;
        // The horizontal adds leave the rows in lane order 0 2 4 6 1 3 5 7; the scales are gathered in that order.
        var scaleOffsets = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7) * (int)rowBytes;
        Vector256<float> acc = default, accMin = default;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            var xLow = Vector256.Create(Vector128.Load(x)).AsSByte();
            var xHigh = Vector256.Create(Vector128.Load(x + 16)).AsSByte();
            var dots = Avx2.HorizontalAdd(
                Avx2.HorizontalAdd(PairDot(w, w + r, xLow, xHigh), PairDot(w + 2 * r, w + 3 * r, xLow, xHigh)),
                Avx2.HorizontalAdd(PairDot(w + 4 * r, w + 5 * r, xLow, xHigh), PairDot(w + 6 * r, w + 7 * r, xLow, xHigh)));
            if (TF.ZeroPoint != 0)
                dots -= Vector256.Create(TF.ZeroPoint * q[b]);
            var halves = Avx2.GatherVector256((int*)w, scaleOffsets, 1);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dots), HalfTable.ToSingle(halves) * d[b], acc);
            if (TF.HasMin)
                accMin = Vector256.FusedMultiplyAdd(HalfTable.ToSingle(Vector256.ShiftRightLogical(halves, 16)), Vector256.Create(s[b]), accMin);
        }
        Avx2.PermuteVar8x32(acc + accMin, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).Store(y);
    }
}

/// <summary>
/// 32-element formats on 512-bit AVX-512BW vectors: two blocks per vector (lanes 0–7 block b, 8–15 block b+1), so one
/// vpmaddubsw/vpmaddwd/convert/FMA sequence covers 64 weights; an odd last block goes through the 256-bit path.
/// </summary>
internal unsafe struct Block32Dot512<TF> : IQuantizedDot where TF : IBlock32
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Unsigned(byte* w) =>
        Block32Dot256<TF, Avx2Mac>.Unsigned(w).ToVector512Unsafe().WithUpper(Block32Dot256<TF, Avx2Mac>.Unsigned(w + TF.Bytes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Products(Vector512<byte> u, sbyte* x)
    {
        var xv = Vector512.Load(x);
        if (TF.Signed)
        {
            // |w| · (x with w's sign): AVX-512 has no vpsignb, so negate x under a w < 0 mask.
            var w = u.AsSByte();
            xv = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), -xv, xv);
            u = Avx512BW.Abs(w);
        }
        return Vector512.ConvertToSingle(Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, xv), Vector512.Create((short)1)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scales(float w0, float w1, float* d) =>
        Vector256.Create(w0 * d[0]).ToVector512Unsafe().WithUpper(Vector256.Create(w1 * d[1]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Offsets(byte* w, float* d, float* s, int* q) =>
        (TF.HasMin ? HalfTable.At(w + 2) * s[0] + HalfTable.At(w + TF.Bytes + 2) * s[1] : 0)
        - (TF.ZeroPoint != 0 ? TF.ZeroPoint * (HalfTable.At(w) * d[0] * q[0] + HalfTable.At(w + TF.Bytes) * d[1] * q[1]) : 0);

    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        var acc = Vector512<float>.Zero;
        float offset = 0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, w += 2 * TF.Bytes, x += 64)
        {
            acc = Vector512.FusedMultiplyAdd(Products(Unsigned(w), x), Scales(HalfTable.At(w), HalfTable.At(w + TF.Bytes), d + b), acc);
            offset += Offsets(w, d + b, s + b, q + b);
        }
        float sum = Vector512.Sum(acc) + offset;
        if (b < blocks)
            sum += LastBlock(w, x, d[b], s[b], q[b]);
        return sum;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / 32, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, w += 2 * TF.Bytes, x += 64)
        {
            var u = Unsigned(w);
            float w0 = HalfTable.At(w), w1 = HalfTable.At(w + TF.Bytes);
            acc0 = Vector512.FusedMultiplyAdd(Products(u, x), Scales(w0, w1, d + b), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Products(u, x + n), Scales(w0, w1, d + blocks + b), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Products(u, x + 2 * n), Scales(w0, w1, d + 2 * blocks + b), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Products(u, x + 3 * n), Scales(w0, w1, d + 3 * blocks + b), acc3);
            o0 += Offsets(w, d + b, s + b, q + b);
            o1 += Offsets(w, d + blocks + b, s + blocks + b, q + blocks + b);
            o2 += Offsets(w, d + 2 * blocks + b, s + 2 * blocks + b, q + 2 * blocks + b);
            o3 += Offsets(w, d + 3 * blocks + b, s + 3 * blocks + b, q + 3 * blocks + b);
        }
        y[0] = Vector512.Sum(acc0) + o0;
        y[stride] = Vector512.Sum(acc1) + o1;
        y[2 * stride] = Vector512.Sum(acc2) + o2;
        y[3 * stride] = Vector512.Sum(acc3) + o3;
        if (b < blocks)
            for (int k = 0; k < 4; k++)
                y[k * stride] += LastBlock(w, x + k * n, d[k * blocks + b], s[k * blocks + b], q[k * blocks + b]);
    }

    /// <summary>The eight-row decode kernel is the 256-bit one: its cost is in the pairing and the reduction, not the width.</summary>
    public static void Rows8(byte* w, long rowBytes, QuantizedActivations a, int t, float* y) =>
        Block32Dot256<TF, Avx2Mac>.Rows8(w, rowBytes, a, t, y);

    private static float LastBlock(byte* w, sbyte* x, float d, float s, int q) =>
        Vector256.Sum(Block32Dot256<TF, Avx2Mac>.Dot(Block32Dot256<TF, Avx2Mac>.Unsigned(w), x)) * (HalfTable.At(w) * d)
        + (TF.HasMin ? HalfTable.At(w + 2) * s : 0) - (TF.ZeroPoint != 0 ? HalfTable.At(w) * d * (TF.ZeroPoint * q) : 0);
}

/// <summary>32-element formats on Vector128 (SSE or NEON): the same arithmetic with widening multiplies.</summary>
internal unsafe struct Block32DotPortable<TF> : IQuantizedDot where TF : IBlock32
{
    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        int* q = a.QSums(t);
        var acc = Vector128<float>.Zero;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            TF.Unsigned(w, out var low, out var high);
            var x0 = Vector128.Load(x);
            var x1 = Vector128.Load(x + 16);
            var dot = TF.Signed
                ? PortableMac.DotSigned(low.AsSByte(), x0) + PortableMac.DotSigned(high.AsSByte(), x1)
                : PortableMac.Dot(low, x0) + PortableMac.Dot(high, x1);
            float scale = HalfTable.At(w) * d[b];
            acc = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(dot), Vector128.Create(scale), acc);
            offset += (TF.HasMin ? HalfTable.At(w + 2) * s[b] : 0) - (TF.ZeroPoint != 0 ? scale * (TF.ZeroPoint * q[b]) : 0);
        }
        return Vector128.Sum(acc) + offset;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride) => OneAtATime.Dot4<Block32DotPortable<TF>>(w, a, t, y, stride);

    public static void Rows8(byte* w, long rowBytes, QuantizedActivations a, int t, float* y) => OneAtATime.Rows8<Block32DotPortable<TF>>(w, rowBytes, a, t, y);
}
