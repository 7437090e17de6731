using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Dot products of one quantized weight row with one token's (<see cref="Dot1"/>) or four consecutive tokens'
/// (<see cref="Dot4"/>, which decodes each weight block once for all four) quantized activations.
/// </summary>
internal unsafe interface IQuantizedDot
{
    static abstract float Dot1(byte* row, QuantizedActivations a, int t);

    /// <summary>y[k·stride] = row · token t+k, k &lt; 4.</summary>
    static abstract void Dot4(byte* row, QuantizedActivations a, int t, float* y, int stride);
}

/// <summary>
/// 32-element formats on 256-bit vectors, AVX2 or AVX-VNNI: per block, 32 unsigned weights × 32 int8 activations
/// summed in integers, converted once and scaled by d_w·d_x into eight float lanes; the block's offset (zero point or
/// min) times the activation block's d·Σq goes to a scalar. Q8_0's signed weights take ggml's sign trick
/// (|w| × sign(w)·x) so the unsigned-by-signed multiply still applies.
/// </summary>
internal unsafe struct Block32Dot256<TF, TMac> : IQuantizedDot where TF : IBlock32 where TMac : IMac
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Unsigned(byte* w)
    {
        TF.Unsigned(w, out var low, out var high);
        return Vector256.Create(low, high);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Products(Vector256<byte> u, sbyte* x)
    {
        var xv = Vector256.Load(x);
        var dot = TF.Signed
            ? TMac.Dot(Vector256<int>.Zero, Avx2.Abs(u.AsSByte()), Avx2.Sign(xv, u.AsSByte()))
            : TMac.Dot(Vector256<int>.Zero, u, xv);
        return Vector256.ConvertToSingle(dot);
    }

    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        var acc = Vector256<float>.Zero;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            acc = Vector256.FusedMultiplyAdd(Products(Unsigned(w), x), Vector256.Create(TF.Scale(w) * d[b]), acc);
            if (!TF.Signed)
                offset += TF.Offset(w) * s[b];
        }
        return Vector256.Sum(acc) + offset;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / 32, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            var u = Unsigned(w);
            float scale = TF.Scale(w);
            acc0 = Vector256.FusedMultiplyAdd(Products(u, x), Vector256.Create(scale * d[b]), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Products(u, x + n), Vector256.Create(scale * d[blocks + b]), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Products(u, x + 2 * n), Vector256.Create(scale * d[2 * blocks + b]), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Products(u, x + 3 * n), Vector256.Create(scale * d[3 * blocks + b]), acc3);
            if (!TF.Signed)
            {
                float offset = TF.Offset(w);
                o0 += offset * s[b];
                o1 += offset * s[blocks + b];
                o2 += offset * s[2 * blocks + b];
                o3 += offset * s[3 * blocks + b];
            }
        }
        y[0] = Vector256.Sum(acc0) + o0;
        y[stride] = Vector256.Sum(acc1) + o1;
        y[2 * stride] = Vector256.Sum(acc2) + o2;
        y[3 * stride] = Vector256.Sum(acc3) + o3;
    }
}

/// <summary>
/// 32-element formats on 512-bit AVX-512BW vectors: two blocks per vector (lanes 0–7 block b, 8–15 block b+1), so one
/// vpmaddubsw/vpmaddwd/convert/FMA sequence covers 64 weights; an odd last block goes through the 256-bit path.
/// </summary>
internal unsafe struct Block32Dot512<TF> : IQuantizedDot where TF : IBlock32
{
    private static readonly Vector512<short> Ones = Vector512.Create((short)1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Unsigned(byte* w) =>
        Vector512.Create(Block32Dot256<TF, Avx2Mac>.Unsigned(w), Block32Dot256<TF, Avx2Mac>.Unsigned(w + TF.Bytes));

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
        return Vector512.ConvertToSingle(Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, xv), Ones));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scales(float w0, float w1, float* d) =>
        Vector512.Create(Vector256.Create(w0 * d[0]), Vector256.Create(w1 * d[1]));

    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        var acc = Vector512<float>.Zero;
        float offset = 0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, w += 2 * TF.Bytes, x += 64)
        {
            acc = Vector512.FusedMultiplyAdd(Products(Unsigned(w), x), Scales(TF.Scale(w), TF.Scale(w + TF.Bytes), d + b), acc);
            if (!TF.Signed)
                offset += TF.Offset(w) * s[b] + TF.Offset(w + TF.Bytes) * s[b + 1];
        }
        float sum = Vector512.Sum(acc) + offset;
        if (b < blocks)
            sum += LastBlock(w, x, d[b], s[b]);
        return sum;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / 32, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, w += 2 * TF.Bytes, x += 64)
        {
            var u = Unsigned(w);
            float w0 = TF.Scale(w), w1 = TF.Scale(w + TF.Bytes);
            acc0 = Vector512.FusedMultiplyAdd(Products(u, x), Scales(w0, w1, d + b), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Products(u, x + n), Scales(w0, w1, d + blocks + b), acc1);
            acc2 = Vector512.FusedMultiplyAdd(Products(u, x + 2 * n), Scales(w0, w1, d + 2 * blocks + b), acc2);
            acc3 = Vector512.FusedMultiplyAdd(Products(u, x + 3 * n), Scales(w0, w1, d + 3 * blocks + b), acc3);
            if (!TF.Signed)
            {
                float f0 = TF.Offset(w), f1 = TF.Offset(w + TF.Bytes);
                o0 += f0 * s[b] + f1 * s[b + 1];
                o1 += f0 * s[blocks + b] + f1 * s[blocks + b + 1];
                o2 += f0 * s[2 * blocks + b] + f1 * s[2 * blocks + b + 1];
                o3 += f0 * s[3 * blocks + b] + f1 * s[3 * blocks + b + 1];
            }
        }
        y[0] = Vector512.Sum(acc0) + o0;
        y[stride] = Vector512.Sum(acc1) + o1;
        y[2 * stride] = Vector512.Sum(acc2) + o2;
        y[3 * stride] = Vector512.Sum(acc3) + o3;
        if (b < blocks)
            for (int k = 0; k < 4; k++)
                y[k * stride] += LastBlock(w, x + k * n, d[k * blocks + b], s[k * blocks + b]);
    }

    private static float LastBlock(byte* w, sbyte* x, float d, float s)
    {
        var u = Block32Dot256<TF, Avx2Mac>.Unsigned(w);
        var xv = Vector256.Load(x);
        var dot = TF.Signed
            ? Avx2Mac.Dot(Vector256<int>.Zero, Avx2.Abs(u.AsSByte()), Avx2.Sign(xv, u.AsSByte()))
            : Avx2Mac.Dot(Vector256<int>.Zero, u, xv);
        return Vector256.Sum(dot) * (TF.Scale(w) * d) + (TF.Signed ? 0 : TF.Offset(w) * s);
    }
}

/// <summary>32-element formats on Vector128 (SSE or NEON): the same arithmetic with widening multiplies.</summary>
internal unsafe struct Block32DotPortable<TF> : IQuantizedDot where TF : IBlock32
{
    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / 32;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t), s = a.BlockSums(t);
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
            acc = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(dot), Vector128.Create(TF.Scale(w) * d[b]), acc);
            if (!TF.Signed)
                offset += TF.Offset(w) * s[b];
        }
        return Vector128.Sum(acc) + offset;
    }

    /// <summary>Four single-token products: the portable path has no shared-decode batch kernel.</summary>
    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        for (int k = 0; k < 4; k++)
            y[k * stride] = Dot1(w, a, t + k);
    }
}
