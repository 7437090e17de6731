using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// A 32-element format whose eight consecutive blocks AVX-512 VBMI's byte permutes (vpermt2b) can take apart: a few
/// 64-byte loads cover the eight blocks, and permutes gather four blocks' quants into one 512-bit vector and the eight
/// half-float scales into one — in place of the 256-bit kernel's 128-bit inserts and eight scalar scale loads.
/// </summary>
internal unsafe interface IGatherEight : IBlock32
{
    /// <summary>
    /// The quants of the eight blocks at <paramref name="w"/> (unsigned, or signed bytes when
    /// <see cref="IBlock32.Signed"/>), in <see cref="QuantizedActivations.Grouped"/>
    /// order: <paramref name="low0"/> = blocks 0–3's values 0–15 (block k at byte 16k), <paramref name="high0"/> their
    /// values 16–31, <paramref name="low1"/> and <paramref name="high1"/> the same for blocks 4–7; and d_w of block i in
    /// lane i of <paramref name="scales"/>. Reads only the eight blocks' bytes.
    /// </summary>
    static abstract void Eight(byte* w, in Loop512 c, out Vector512<byte> low0, out Vector512<byte> high0, out Vector512<byte> low1,
        out Vector512<byte> high1, out Vector256<float> scales);

    /// <summary>The format's permute indices and masks for <see cref="Eight"/> (<see cref="Loop512.I0"/> …).</summary>
    static abstract Loop512 Constants { get; }
}

/// <summary>
/// The vector constants of a 512-bit kernel's loop, built before the loop: the JIT keeps such locals in registers,
/// while a vector constant written inside a loop is loaded from memory again at every use (the Q4_0 loop loaded nine
/// per step). Resident, 576 columns, alternating builds: Q4_0 best 32.6–34.2 -> 34.4–36.2 G weights/s, Q5_0 25.0–25.2 ->
/// 28.9–29.4.
/// <see cref="I0"/>–<see cref="I7"/> are the format's (<see cref="IGatherEight.Constants"/>), the rest the kernel's.
/// </summary>
internal readonly struct Loop512
{
    public readonly Vector512<byte> I0, I1, I2, I3, I4, I5, I6, I7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Loop512(Vector512<byte> i0, Vector512<byte> i1, Vector512<byte> i2, Vector512<byte> i3 = default,
        Vector512<byte> i4 = default, Vector512<byte> i5 = default, Vector512<byte> i6 = default, Vector512<byte> i7 = default)
    {
        (I0, I1, I2, I3, I4, I5, I6, I7) = (i0, i1, i2, i3, i4, i5, i6, i7);
        LowNibble = Vector512.Create((byte)0x0F);
        Ones = Vector512.Create((short)1);
        BlockSums = Vector512.Create(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /// <summary>0x0F in every byte.</summary>
    public readonly Vector512<byte> LowNibble;
    public readonly Vector512<short> Ones;
    /// <summary>Picks each block's sum out of the reduction in <see cref="Block32Dot512{TF}"/> (block j of a group from lane 4j, block 4+j from 4j+2).</summary>
    public readonly Vector512<int> BlockSums;
}

/// <summary>
/// The 32-element formats on 512-bit vectors (<see cref="IGatherEight"/>): per eight blocks, four vpmaddubsw and two
/// vpmaddwd (four for signed quants) against the grouped activations, a shuffle-and-add reduction to one sum per block, the zero point taken
/// off in integers (as the 256-bit kernel does, so the two paths agree to the float rounding), then one multiply-add by
/// d_w·d_x. Tiles of rows go as one stream of groups (<see cref="TryDotRows"/>, <see cref="TryDotRows4"/>); in rows taken
/// one by one (<see cref="Dot1"/>, <see cref="Dot4"/>), a row's last (blocks mod 8) blocks go through the 256-bit
/// kernel's tail.
/// </summary>
internal unsafe struct Block32Dot512<TF> : IQuantizedDot where TF : IGatherEight
{
    /// <summary>
    /// How far ahead of the blocks being read decoding prefetches (see <see cref="Prefetch"/>): 4 KB into L1 (3–6 KB
    /// measured alike, 1–2 KB worse); Q8_0 12 KB into L2, as in <see cref="Block32Dot256{TF, TMac}"/>'s stream.
    /// </summary>
    private static int PrefetchAhead => TF.Signed ? 12288 : 4096;

    /// <summary>Eight blocks' quants and scales (see <see cref="IGatherEight.Eight"/>).</summary>
    private readonly struct Eight
    {
        private readonly Vector512<byte> _low0, _high0, _low1, _high1;
        /// <summary>d_w of block i in lane i.</summary>
        public readonly Vector256<float> Scales;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Eight(byte* w, in Loop512 c) => TF.Eight(w, c, out _low0, out _high0, out _low1, out _high1, out Scales);

        /// <summary>Σu·q − ZeroPoint·Σq per block (lane i = block i) against grouped activations <paramref name="x"/>, as floats.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Dots(sbyte* x, int* qsums, in Loop512 c)
        {
            var ones = c.Ones;
            Vector512<int> s0, s1;
            if (TF.Signed)
            {
                s0 = SignedDot(_low0, Vector512.Load(x), ones) + SignedDot(_high0, Vector512.Load(x + 64), ones);
                s1 = SignedDot(_low1, Vector512.Load(x + 128), ones) + SignedDot(_high1, Vector512.Load(x + 192), ones);
            }
            else
            {
                s0 = Avx512BW.MultiplyAddAdjacent(
                    Avx512BW.MultiplyAddAdjacent(_low0, Vector512.Load(x)) + Avx512BW.MultiplyAddAdjacent(_high0, Vector512.Load(x + 64)), ones);
                s1 = Avx512BW.MultiplyAddAdjacent(
                    Avx512BW.MultiplyAddAdjacent(_low1, Vector512.Load(x + 128)) + Avx512BW.MultiplyAddAdjacent(_high1, Vector512.Load(x + 192)), ones);
            }
            // 128-bit lane j of s0 holds block j's four partial sums, of s1 block 4+j's: add pairs, then neighbours,
            // which leaves block j in elements 0–1 of lane j and block 4+j in elements 2–3.
            var t = Avx512F.UnpackLow(s0.AsUInt64(), s1.AsUInt64()).AsInt32() + Avx512F.UnpackHigh(s0.AsUInt64(), s1.AsUInt64()).AsInt32();
            t += Avx512F.Shuffle(t, 0b10_11_00_01);
            var sums = Avx512F.PermuteVar16x32(t, c.BlockSums).GetLower();
            if (TF.ZeroPoint != 0)
                sums -= Vector256.Load(qsums) * TF.ZeroPoint;
            return Vector256.ConvertToSingle(sums);
        }
    }

    /// <summary>
    /// Σ w·x of signed bytes in 32-bit lanes (four products each): ggml's sign trick, |w| times x with w's sign, so the
    /// unsigned-by-signed multiply applies; AVX-512 has no vpsignb, so the sign is a masked negation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> SignedDot(Vector512<byte> w, Vector512<sbyte> x, Vector512<short> ones)
    {
        var signed = w.AsSByte();
        var xs = Vector512.ConditionalSelect(Vector512.LessThan(signed, Vector512<sbyte>.Zero), -x, x);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Abs(signed).AsByte(), xs), ones);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* q = a.QSums;
        Vector256<float> acc = default;
        int b = 0;
        var c = TF.Constants;
        for (; b + 8 <= blocks; b += 8, w += 8 * TF.Bytes, x += 256)
        {
            Prefetch(w);
            var eight = new Eight(w, c);
            acc = Vector256.FusedMultiplyAdd(eight.Dots(x, q + b, c), eight.Scales * Vector256.Load(d + b), acc);
        }
        return Vector256.Sum(acc) + Block32Dot256<TF, Avx2Mac>.Tail(w, x, a, b);
    }

    /// <summary>
    /// Decoding streams each row from memory: every step asks for the lines <see cref="PrefetchAhead"/> bytes ahead of
    /// the eight blocks it reads (<see cref="StreamPrefetch"/>). Measured against a burst of prefetches 2 KB ahead before
    /// each row (how Q4_0 used to prefetch), same process alternating, medians of 12 rounds: 110M Q4_0 206 -> 216 tok/s
    /// (1 thread), 275 -> 312 (2 threads); Q5_0 149 -> 172 and 286 -> 312; SmolLM2 Q4_K_M 94 -> 99 and 173 -> 173.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* w) => StreamPrefetch.Lines(w + PrefetchAhead, 8 * TF.Bytes, toL2: TF.Signed);

    /// <summary>
    /// One row after the other (decoding's fallback where <see cref="TryDotRows"/> cannot). Unlike the 256-bit kernel,
    /// this one keeps enough work in flight on one row, and interleaving two rows' loads made decoding slower: one row
    /// at a time, 110M model, same process alternating,
    /// medians of 12 rounds, with the 2 KB prefetch both ways: Q4_0 166 -> 174 tok/s (1 thread), 319 -> 357 (2 threads);
    /// Q5_0 127 -> 144 and 225 -> 285.
    /// </summary>
    public static void DotRows2(byte* w0, byte* w1, in ActivationRow a, float* y)
    {
        y[0] = Dot1(w0, a);
        y[1] = Dot1(w1, a);
    }

    /// <summary>
    /// A tile of rows as one stream of groups of eight blocks (<see cref="RowStream"/>). SmolLM2's 576-wide rows (18
    /// blocks) otherwise end on two blocks through the 256-bit tail, which cost as much as nine blocks in groups.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining), SkipLocalsInit]
    public static bool TryDotRows(byte* w, int rows, in ActivationRow a, float* y)
    {
        if (!RowStream.Fits(rows, a))
            return false;
        float* values = stackalloc float[RowStream.MaxBlocks];
        var period = a.Period;
        sbyte* x = period.Values;
        float* d = period.Scales;
        int* q = period.QSums;
        int total = rows * a.Blocks, k = 0, groups = period.Groups;
        var c = TF.Constants;
        for (int b = 0; b < total; b += 8, w += 8 * TF.Bytes)
        {
            Prefetch(w);
            var eight = new Eight(w, c);
            (eight.Dots(x + 256 * k, q + 8 * k, c) * (eight.Scales * Vector256.Load(d + 8 * k))).Store(values + b);
            if (++k == groups)
                k = 0;
        }
        RowStream.SumRows(values, rows, a.Blocks, y);
        return true;
    }

    /// <summary><see cref="TryDotRows"/> for four tokens: each group of weight blocks is unpacked once for all four (the prompt path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining), SkipLocalsInit]
    public static bool TryDotRows4(byte* w, int rows, in ActivationRow a, float* y, int stride)
    {
        if (!RowStream.Fits(rows, a, 4))
            return false;
        float* values = stackalloc float[RowStream.MaxBlocks];
        var period = a.Period;
        int groups = period.Groups, total = rows * a.Blocks, k = 0;
        sbyte* x = period.Values;
        float* d = period.Scales;
        int* q = period.QSums;
        // Token j's period is j periods on (ActivationPeriod.Next).
        int xn = 256 * groups, dn = 8 * groups;
        var c = TF.Constants;
        for (int b = 0; b < total; b += 8, w += 8 * TF.Bytes)
        {
            var eight = new Eight(w, c);
            sbyte* xk = x + 256 * k;
            float* dk = d + 8 * k;
            int* qk = q + 8 * k;
            (eight.Dots(xk, qk, c) * (eight.Scales * Vector256.Load(dk))).Store(values + b);
            (eight.Dots(xk + xn, qk + dn, c) * (eight.Scales * Vector256.Load(dk + dn))).Store(values + total + b);
            (eight.Dots(xk + 2 * xn, qk + 2 * dn, c) * (eight.Scales * Vector256.Load(dk + 2 * dn))).Store(values + 2 * total + b);
            (eight.Dots(xk + 3 * xn, qk + 3 * dn, c) * (eight.Scales * Vector256.Load(dk + 3 * dn))).Store(values + 3 * total + b);
            if (++k == groups)
                k = 0;
        }
        for (int j = 0; j < 4; j++)
            RowStream.SumRows(values + j * total, rows, a.Blocks, y + j * stride);
        return true;
    }

    /// <summary>Four tokens: each weight block is unpacked once for all of them (the prompt path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, n = a.Length;
        sbyte* x = a.Values;
        float* d = a.Scales;
        int* q = a.QSums;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int b = 0;
        var c = TF.Constants;
        for (; b + 8 <= blocks; b += 8, w += 8 * TF.Bytes, x += 256)
        {
            var eight = new Eight(w, c);
            acc0 = Vector256.FusedMultiplyAdd(eight.Dots(x, q + b, c), eight.Scales * Vector256.Load(d + b), acc0);
            acc1 = Vector256.FusedMultiplyAdd(eight.Dots(x + n, q + blocks + b, c), eight.Scales * Vector256.Load(d + blocks + b), acc1);
            acc2 = Vector256.FusedMultiplyAdd(eight.Dots(x + 2 * n, q + 2 * blocks + b, c), eight.Scales * Vector256.Load(d + 2 * blocks + b), acc2);
            acc3 = Vector256.FusedMultiplyAdd(eight.Dots(x + 3 * n, q + 3 * blocks + b, c), eight.Scales * Vector256.Load(d + 3 * blocks + b), acc3);
        }
        // A row's last blocks (mod 8), token by token.
        y[0] = Vector256.Sum(acc0) + Block32Dot256<TF, Avx2Mac>.Tail(w, x, a, b);
        y[stride] = Vector256.Sum(acc1) + Block32Dot256<TF, Avx2Mac>.Tail(w, x + n, a.Next(1), b);
        y[2 * stride] = Vector256.Sum(acc2) + Block32Dot256<TF, Avx2Mac>.Tail(w, x + 2 * n, a.Next(2), b);
        y[3 * stride] = Vector256.Sum(acc3) + Block32Dot256<TF, Avx2Mac>.Tail(w, x + 3 * n, a.Next(3), b);
    }
}

/// <summary>
/// Q8_0 on AVX-512: <see cref="Block32Dot512{TF}"/> for prompts (measured on the 110M model, 256-token prefill: +43 %
/// on 1 thread, +46 % on 2) and for decoding's row stream (<see cref="RowStream"/>) with its L2 prefetch: against the
/// 256-bit stream, same process alternating, SmolLM2 / 110M, two runs, 1 thread 142 / 178 and 147 / 164 -> 153 / 190
/// and 157 / 170 tok/s, 2 threads 191 / 273 and 196 / 260 -> 203 / 261 and 196 / 260. Rows decoded one by one (the
/// tiles that cannot stream) keep the 256-bit kernel: there the 512-bit one's overlapping 64-byte loads lost (one row at
/// a time ~7 % behind, two rows at a time at half the speed).
/// </summary>
internal unsafe struct Q8_0Dot512<TMac> : IQuantizedDot where TMac : IMac
{
    public static float Dot1(byte* w, in ActivationRow a) => Block32Dot256<Q8_0Format, TMac>.Dot1(w, a);

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => Block32Dot256<Q8_0Format, TMac>.DotRows2(row0, row1, a, y);

    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride) => Block32Dot512<Q8_0Format>.Dot4(w, a, y, stride);

    public static bool TryDotRows4(byte* w, int rows, in ActivationRow a, float* y, int stride) => Block32Dot512<Q8_0Format>.TryDotRows4(w, rows, a, y, stride);

    public static bool TryDotRows(byte* w, int rows, in ActivationRow a, float* y) => Block32Dot512<Q8_0Format>.TryDotRows(w, rows, a, y);
}

/// <summary>
/// Software prefetch for kernels that stream a row from memory: each step of the loop asks for the lines a fixed
/// distance ahead of the bytes it reads, so the requests go out at the rate the kernel consumes bytes, and run on into
/// the next rows (a matrix's rows are contiguous).
/// </summary>
internal static unsafe class StreamPrefetch
{
    /// <summary>
    /// Prefetches the 64-byte lines covering <paramref name="bytes"/> (a constant, at most 320) from <paramref name="at"/>,
    /// into L1 (prefetcht0), or into L2 when <paramref name="toL2"/> (prefetcht1; a constant too).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lines(byte* at, int bytes, bool toL2 = false)
    {
        Line(at, toL2);
        if (bytes > 64)
            Line(at + 64, toL2);
        if (bytes > 128)
            Line(at + 128, toL2);
        if (bytes > 192)
            Line(at + 192, toL2);
        if (bytes > 256)
            Line(at + 256, toL2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Line(byte* at, bool toL2)
    {
        if (toL2)
            Sse.Prefetch1(at);
        else
            Sse.Prefetch0(at);
    }
}

// Permute indices are literals, which the JIT embeds as constants (a static readonly field would cost a
// class-initialization check inside the loops of the AggressiveOptimization kernels); the kernels build them before
// their loops (Loop512), so they stay in registers.

/// <summary>Q4_0's eight 18-byte blocks (144 bytes): two 64-byte loads and one 16-byte load, three permutes.</summary>
internal unsafe partial struct Q4_0Format : IGatherEight
{
    /// <summary>Blocks 0–3's nibbles (bytes 2–17 of each) from bytes 0–127.</summary>
    private static Vector512<byte> Nibbles0 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71); }

    /// <summary>Blocks 4–7's nibbles from bytes 64–191 (only 64–143 are used).</summary>
    private static Vector512<byte> Nibbles1 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79); }

    /// <summary>Block i's half-float scale into bytes 2–3 of 32-bit lane i (bytes 0–1 get the same, ignored).</summary>
    private static Vector512<byte> ScaleBytes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)0, 1, 0, 1, 18, 19, 18, 19, 36, 37, 36, 37, 54, 55, 54, 55, 72, 73, 72, 73, 90, 91, 90, 91, 108, 109, 108, 109, 126, 127, 126, 127, 0, 1, 0, 1, 18, 19, 18, 19, 36, 37, 36, 37, 54, 55, 54, 55, 72, 73, 72, 73, 90, 91, 90, 91, 108, 109, 108, 109, 126, 127, 126, 127); }

    public static Loop512 Constants { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => new(Nibbles0, Nibbles1, ScaleBytes); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Eight(byte* w, in Loop512 k, out Vector512<byte> low0, out Vector512<byte> high0, out Vector512<byte> low1,
        out Vector512<byte> high1, out Vector256<float> scales)
    {
        var a = Vector512.Load(w);
        var b = Vector512.Load(w + 64);
        var c = Vector128.Load(w + 128).ToVector256Unsafe().ToVector512Unsafe();
        Nibbles.SplitFour(Avx512Vbmi.PermuteVar64x8x2(a, k.I0, b), k.LowNibble, out low0, out high0);
        Nibbles.SplitFour(Avx512Vbmi.PermuteVar64x8x2(b, k.I1, c), k.LowNibble, out low1, out high1);
        scales = HalfTable.FiniteFromHighHalves(Avx512Vbmi.PermuteVar64x8x2(a, k.I2, b).AsInt32().GetLower());
    }
}

/// <summary>
/// Q5_0's eight 22-byte blocks (176 bytes): blocks 0–3 are permuted out of bytes 0–127, blocks 4–7 out of bytes 48–175
/// (four 64-byte loads). The fifth bits: a permute copies block k's 32-bit qh (and its scale) into 64-bit lanes 2k and
/// 2k+1, and vpmultishiftqb picks, for each value, the 8 bits that put its own qh bit at bit 4 — which is where a value
/// of 16–31 has it.
/// </summary>
internal unsafe partial struct Q5_0Format : IGatherEight
{
    /// <summary>Blocks 0–3's nibbles (bytes 6–21 of each) from bytes 0–127.</summary>
    private static Vector512<byte> Nibbles0 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87); }

    /// <summary>Blocks 4–7's nibbles from bytes 48–175.</summary>
    private static Vector512<byte> Nibbles1 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127); }

    /// <summary>Bytes 0–3 of 64-bit lanes 2k and 2k+1: block k's qh; bytes 4–7: its scale, twice (for blocks 0–3).</summary>
    private static Vector512<byte> HighBits0 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)2, 3, 4, 5, 0, 1, 0, 1, 2, 3, 4, 5, 0, 1, 0, 1, 24, 25, 26, 27, 22, 23, 22, 23, 24, 25, 26, 27, 22, 23, 22, 23, 46, 47, 48, 49, 44, 45, 44, 45, 46, 47, 48, 49, 44, 45, 44, 45, 68, 69, 70, 71, 66, 67, 66, 67, 68, 69, 70, 71, 66, 67, 66, 67); }

    /// <summary>The same for blocks 4–7, from bytes 48–175.</summary>
    private static Vector512<byte> HighBits1 { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)42, 43, 44, 45, 40, 41, 40, 41, 42, 43, 44, 45, 40, 41, 40, 41, 64, 65, 66, 67, 62, 63, 62, 63, 64, 65, 66, 67, 62, 63, 62, 63, 86, 87, 88, 89, 84, 85, 84, 85, 86, 87, 88, 89, 84, 85, 84, 85, 108, 109, 110, 111, 106, 107, 106, 107, 108, 109, 110, 111, 106, 107, 106, 107); }

    /// <summary>For value j (0–15) of a block, the bit offset j − 4 (mod 64): qh bit j lands at bit 4.</summary>
    private static Vector512<byte> ShiftLow { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11); }

    /// <summary>For value 16 + j, the bit offset 12 + j.</summary>
    private static Vector512<byte> ShiftHigh { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27); }

    public static Loop512 Constants
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Nibbles0, Nibbles1, HighBits0, HighBits1, ShiftLow, ShiftHigh, Vector512.Create((byte)0x10),
            Vector512.Create(1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0).AsByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Eight(byte* w, in Loop512 k, out Vector512<byte> low0, out Vector512<byte> high0, out Vector512<byte> low1,
        out Vector512<byte> high1, out Vector256<float> scales)
    {
        var a = Vector512.Load(w);
        var b = Vector512.Load(w + 64);
        var c = Vector512.Load(w + 48);
        var e = Vector512.Load(w + 112);
        var fifth = k.I6;
        Nibbles.SplitFour(Avx512Vbmi.PermuteVar64x8x2(a, k.I0, b), k.LowNibble, out low0, out high0);
        Nibbles.SplitFour(Avx512Vbmi.PermuteVar64x8x2(c, k.I1, e), k.LowNibble, out low1, out high1);
        var h0 = Avx512Vbmi.PermuteVar64x8x2(a, k.I2, b).AsUInt64();
        var h1 = Avx512Vbmi.PermuteVar64x8x2(c, k.I3, e).AsUInt64();
        low0 |= Avx512Vbmi.MultiShift(k.I4, h0) & fifth;
        high0 |= Avx512Vbmi.MultiShift(k.I5, h0) & fifth;
        low1 |= Avx512Vbmi.MultiShift(k.I4, h1) & fifth;
        high1 |= Avx512Vbmi.MultiShift(k.I5, h1) & fifth;
        // Block k's scale is in the top half of 32-bit lane 4k+1 of h0 (blocks 0–3) and h1 (blocks 4–7).
        var bits = Avx512F.PermuteVar16x32x2(h0.AsInt32(), k.I7.AsInt32(), h1.AsInt32());
        scales = HalfTable.FiniteFromHighHalves(bits.GetLower());
    }
}


/// <summary>
/// Q8_0's eight 34-byte blocks (272 bytes): per four blocks, values 0–15 are permuted out of bytes 0–127 and values
/// 16–31 out of bytes 8–135 of the group (blocks 4–7 start at byte 136, with the same indices); eight overlapping
/// 64-byte loads, four permutes for the quants and two for the scales. The quants stay signed (<see cref="Signed"/>).
/// </summary>
internal unsafe partial struct Q8_0Format : IGatherEight
{
    /// <summary>Four blocks' values 0–15 (bytes 2–17 of each) from the group's bytes 0–127.</summary>
    private static Vector512<byte> Low { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119); }

    /// <summary>Four blocks' values 16–31 (bytes 18–33 of each) from the group's bytes 8–135.</summary>
    private static Vector512<byte> High { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127); }

    /// <summary>Block k's half-float scale into bytes 2–3 of 32-bit lane k (k &lt; 4).</summary>
    private static Vector512<byte> ScaleBytes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create((byte)0, 1, 0, 1, 34, 35, 34, 35, 68, 69, 68, 69, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103); }

    public static Loop512 Constants
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Low, High, ScaleBytes, Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 0, 0, 0, 0, 0, 0, 0, 0).AsByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Eight(byte* w, in Loop512 k, out Vector512<byte> low0, out Vector512<byte> high0, out Vector512<byte> low1,
        out Vector512<byte> high1, out Vector256<float> scales)
    {
        var a0 = Vector512.Load(w);
        var a1 = Vector512.Load(w + 64);
        low0 = Avx512Vbmi.PermuteVar64x8x2(a0, k.I0, a1);
        high0 = Avx512Vbmi.PermuteVar64x8x2(Vector512.Load(w + 8), k.I1, Vector512.Load(w + 72));
        var b0 = Vector512.Load(w + 136);
        var b1 = Vector512.Load(w + 200);
        low1 = Avx512Vbmi.PermuteVar64x8x2(b0, k.I0, b1);
        high1 = Avx512Vbmi.PermuteVar64x8x2(Vector512.Load(w + 144), k.I1, Vector512.Load(w + 208));
        var bits = Avx512F.PermuteVar16x32x2(Avx512Vbmi.PermuteVar64x8x2(a0, k.I2, a1).AsInt32(),
            k.I3.AsInt32(), Avx512Vbmi.PermuteVar64x8x2(b0, k.I2, b1).AsInt32());
        scales = HalfTable.FiniteFromHighHalves(bits.GetLower());
    }
}

