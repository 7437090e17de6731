using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Q4_0 on 512-bit vectors with AVX-512 VBMI: eight 18-byte blocks (144 bytes) are read with two 64-byte loads and one
/// 16-byte load, and byte permutes (vpermt2b) gather the four blocks' nibbles of each half into one vector and the
/// eight half-float scales into one — in place of the 256-bit kernel's four 128-bit inserts and eight scalar scale loads.
/// Activations are in <see cref="QuantizedActivations.Grouped"/> order, which puts blocks 0–3's values 0–15 and then
/// their values 16–31 side by side, exactly as the low and high nibbles of the gathered vector.
/// </summary>
internal unsafe struct Q4_0Dot512 : IQuantizedDot
{
    private const int Bytes = 18;

    // Permute indices as literals, which the JIT embeds as constants (a static readonly field would cost a
    // class-initialization check inside the loop of these AggressiveOptimization methods).

    /// <summary>Blocks 0–3's nibbles (bytes 2–17 of each) from the first 128 bytes.</summary>
    private static Vector512<byte> NibblesLow { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71); }

    /// <summary>Blocks 4–7's nibbles from bytes 64–191 (only 64–143 are used).</summary>
    private static Vector512<byte> NibblesHigh { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79); }

    /// <summary>Block i's half-float scale into bytes 2–3 of 32-bit lane i (bytes 0–1 get the same, masked off later).</summary>
    private static Vector512<byte> Scales { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)0, 1, 0, 1, 18, 19, 18, 19, 36, 37, 36, 37, 54, 55, 54, 55, 72, 73, 72, 73, 90, 91, 90, 91, 108, 109, 108, 109, 126, 127, 126, 127, 0, 1, 0, 1, 18, 19, 18, 19, 36, 37, 36, 37, 54, 55, 54, 55, 72, 73, 72, 73, 90, 91, 90, 91, 108, 109, 108, 109, 126, 127, 126, 127); }

    /// <summary>Eight blocks' unsigned quants: blocks 0–3's values 0–15 and 16–31, then blocks 4–7's; and their scales.</summary>
    private readonly struct Eight
    {
        private readonly Vector512<byte> _low0, _high0, _low1, _high1;
        /// <summary>d_w of block i in lane i.</summary>
        public readonly Vector256<float> Scales;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Eight(byte* w)
        {
            var a = Vector512.Load(w);
            var b = Vector512.Load(w + 64);
            var c = Vector128.Load(w + 128).ToVector256Unsafe().ToVector512Unsafe();
            var mask = Vector512.Create((byte)0x0F);
            var n0 = Avx512Vbmi.PermuteVar64x8x2(a, NibblesLow, b);
            var n1 = Avx512Vbmi.PermuteVar64x8x2(b, NibblesHigh, c);
            _low0 = n0 & mask;
            _high0 = Vector512.ShiftRightLogical(n0.AsUInt16(), 4).AsByte() & mask;
            _low1 = n1 & mask;
            _high1 = Vector512.ShiftRightLogical(n1.AsUInt16(), 4).AsByte() & mask;
            // Each scale's half-float bits land in the top 16 bits of its lane.
            Scales = HalfTable.FiniteFromHighHalves(Avx512Vbmi.PermuteVar64x8x2(a, Q4_0Dot512.Scales, b).AsInt32().GetLower());
        }

        /// <summary>Σu·q − 8·Σq per block (lane i = block i) against grouped activations <paramref name="x"/>, as floats.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Dots(sbyte* x, int* qsums)
        {
            var ones = Vector512.Create((short)1);
            var s0 = Avx512BW.MultiplyAddAdjacent(
                Avx512BW.MultiplyAddAdjacent(_low0, Vector512.Load(x)) + Avx512BW.MultiplyAddAdjacent(_high0, Vector512.Load(x + 64)), ones);
            var s1 = Avx512BW.MultiplyAddAdjacent(
                Avx512BW.MultiplyAddAdjacent(_low1, Vector512.Load(x + 128)) + Avx512BW.MultiplyAddAdjacent(_high1, Vector512.Load(x + 192)), ones);
            // 128-bit lane j of s0 holds block j's four partial sums, of s1 block 4+j's: add pairs, then neighbours,
            // which leaves block j in elements 0–1 of lane j and block 4+j in elements 2–3.
            var t = Avx512F.UnpackLow(s0.AsUInt64(), s1.AsUInt64()).AsInt32() + Avx512F.UnpackHigh(s0.AsUInt64(), s1.AsUInt64()).AsInt32();
            t += Avx512F.Shuffle(t, 0b10_11_00_01);
            var sums = Avx512F.PermuteVar16x32(t, Vector512.Create(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0)).GetLower();
            return Vector256.ConvertToSingle(sums - Avx2.ShiftLeftLogical(Vector256.Load(qsums), 3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* q = a.QSums;
        Vector256<float> acc = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * Bytes, x += 256)
        {
            var eight = new Eight(w);
            acc = Vector256.FusedMultiplyAdd(eight.Dots(x, q + b), eight.Scales * Vector256.Load(d + b), acc);
        }
        return Vector256.Sum(acc) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w, x, a, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRows2(byte* w0, byte* w1, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* q = a.QSums;
        Vector256<float> acc0 = default, acc1 = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w0 += 8 * Bytes, w1 += 8 * Bytes, x += 256)
        {
            var dx = Vector256.Load(d + b);
            var eight0 = new Eight(w0);
            acc0 = Vector256.FusedMultiplyAdd(eight0.Dots(x, q + b), eight0.Scales * dx, acc0);
            var eight1 = new Eight(w1);
            acc1 = Vector256.FusedMultiplyAdd(eight1.Dots(x, q + b), eight1.Scales * dx, acc1);
        }
        y[0] = Vector256.Sum(acc0) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w0, x, a, b);
        y[1] = Vector256.Sum(acc1) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w1, x, a, b);
    }

    /// <summary>Four tokens: each weight block is unpacked once for all of them (the prompt path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, n = a.Length;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* q = a.QSums;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * Bytes, x += 256)
        {
            var eight = new Eight(w);
            acc0 = Vector256.FusedMultiplyAdd(eight.Dots(x, q + b), eight.Scales * Vector256.Load(d + b), acc0);
            acc1 = Vector256.FusedMultiplyAdd(eight.Dots(x + n, q + blocks + b), eight.Scales * Vector256.Load(d + blocks + b), acc1);
            acc2 = Vector256.FusedMultiplyAdd(eight.Dots(x + 2 * n, q + 2 * blocks + b), eight.Scales * Vector256.Load(d + 2 * blocks + b), acc2);
            acc3 = Vector256.FusedMultiplyAdd(eight.Dots(x + 3 * n, q + 3 * blocks + b), eight.Scales * Vector256.Load(d + 3 * blocks + b), acc3);
        }
        // A row's last blocks (mod 8), token by token.
        y[0] = Vector256.Sum(acc0) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w, x, a, b);
        y[stride] = Vector256.Sum(acc1) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w, x + n, a.Next(1), b);
        y[2 * stride] = Vector256.Sum(acc2) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w, x + 2 * n, a.Next(2), b);
        y[3 * stride] = Vector256.Sum(acc3) + Block32Dot256<Q4_0Format, Avx2Mac>.Tail(w, x + 3 * n, a.Next(3), b);
    }
}
