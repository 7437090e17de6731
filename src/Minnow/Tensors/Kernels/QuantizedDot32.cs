using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Dot products of one quantized weight row with quantized activations: one token (<see cref="Dot1"/>, the decode
/// path) or four consecutive tokens (<see cref="Dot4"/>, which decodes each weight block once for all four — the prompt
/// path). Rows are taken one at a time, so the weights stream from memory in a single sequential pass: measured here,
/// interleaving several rows (several streams) read memory at well under half the speed.
/// <para>
/// The kernels' entry points are never inlined (<c>NoInlining</c> with <c>AggressiveOptimization</c>): tier-1 callers
/// with profile data (the fused sections' lambdas, <see cref="OneAtATime"/>) inlined them whole, ran out of inlining
/// budget, and left the kernels' small vector helpers as calls that pass vectors through memory — 8–9 % of 110M Q4_K_M
/// decoding went to one such Q6_K helper, and interleaved Q8_0 decoding ran at 85 instead of 139 tok/s in some
/// processes.
/// </para>
/// </summary>
internal unsafe interface IQuantizedDot
{
    static abstract float Dot1(byte* row, in ActivationRow a);

    /// <summary>y[k·stride] = row · token t+k, k &lt; 4.</summary>
    static abstract void Dot4(byte* row, in ActivationRow a, float* y, int stride);

    /// <summary>
    /// y[0] = row0 · a, y[1] = row1 · a for two adjacent rows of one token (decode). A kernel overrides it when
    /// interleaving the rows pays: on short rows one row's work is too little for the out-of-order window to hide the
    /// latency of its reduction.
    /// </summary>
    static abstract void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y);

    /// <summary>
    /// y[r] = row r · a for <paramref name="rows"/> consecutive rows from <paramref name="w"/> (one tile, decode), taken
    /// as one stream of blocks (<see cref="RowStream"/>); false, having done nothing, when the kernel cannot (then rows go by
    /// <see cref="DotRows2"/> and <see cref="Dot1"/>).
    /// </summary>
    static virtual bool TryDotRows(byte* w, int rows, in ActivationRow a, float* y) => false;

    /// <summary>
    /// <see cref="TryDotRows"/> for four consecutive tokens (the prompt path): y[k·stride + r] = row r · token t+k.
    /// </summary>
    static virtual bool TryDotRows4(byte* w, int rows, in ActivationRow a, float* y, int stride) => false;
}

/// <summary>The batch fallback of paths without their own four-token kernel: one dot product at a time.</summary>
internal static unsafe class OneAtATime
{
    public static void Dot4<TDot>(byte* w, in ActivationRow a, float* y, int stride) where TDot : IQuantizedDot
    {
        for (int k = 0; k < 4; k++)
            y[k * stride] = TDot.Dot1(w, a.Next(k));
    }

    public static void DotRows2<TDot>(byte* row0, byte* row1, in ActivationRow a, float* y) where TDot : IQuantizedDot
    {
        y[0] = TDot.Dot1(row0, a);
        y[1] = TDot.Dot1(row1, a);
    }
}

/// <summary>
/// A tile of rows as one stream of groups of eight blocks, for one token (<see cref="IQuantizedDot.TryDotRows"/>,
/// decode) or four (<see cref="IQuantizedDot.TryDotRows4"/>, prompts): a matrix's rows are contiguous, so a tile of rows
/// whose blocks come to whole groups can be read group by group against each token's <see cref="ActivationPeriod"/>, a
/// group spanning two rows where it must. There is no per-row tail and no per-row reduction of a vector accumulator:
/// each block's value goes to a buffer, and each row sums its blocks there. The kernels' Dot1/DotRows2/Dot4 remain for
/// the tiles that cannot (a last short tile whose blocks do not come to whole groups, or rows too long for the buffer).
/// </summary>
internal static unsafe class RowStream
{
    /// <summary>Most blocks taken at once (a tile of 16 rows of up to 8192 values); the kernels' buffer size.</summary>
    public const int MaxBlocks = 4096;

    /// <summary>
    /// Whether <paramref name="rows"/> rows against <paramref name="a"/> (and the next <paramref name="tokens"/> − 1
    /// tokens) can go as one stream: the blocks come to whole groups, and their values fit the buffer.
    /// </summary>
    public static bool Fits(int rows, in ActivationRow a, int tokens = 1)
    {
        int total = rows * a.Blocks;
        return a.Period.Groups != 0 && (total & 7) == 0 && total * tokens <= MaxBlocks;
    }

    /// <summary>y[r] = the sum of row r's <paramref name="blocks"/> block values in <paramref name="values"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SumRows(float* values, int rows, int blocks, float* y)
    {
        for (int r = 0; r < rows; r++, values += blocks)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 8 <= blocks; i += 8)
                acc += Vector256.Load(values + i);
            float sum = Vector256.Sum(acc);
            for (; i < blocks; i++)
                sum += values[i];
            y[r] = sum;
        }
    }
}

/// <summary>
/// 32-element formats on 256-bit vectors, AVX2 or AVX-VNNI (also the AVX-512 path's kernel for these formats: the
/// work is in unpacking and reducing, which 512-bit vectors do not make cheaper on the CPUs measured). Per block:
/// 32 unsigned weights × 32 int8 activations summed in integers, minus the zero point times Σq, converted once and
/// scaled by d_w·d_x; a min (Q4_1/Q5_1) adds m·d_x·Σq. Eight blocks go at once: two blocks per vector (one per 128-bit
/// half, against activations in <see cref="QuantizedActivations.Grouped"/> order), three horizontal adds leave one
/// block's sum per lane, and the eight scales are loaded and converted together, so the float work is shared.
/// Q8_0's signed weights take ggml's sign trick (|w| × sign(w)·x) so the unsigned-by-signed multiply applies.
/// </summary>
internal unsafe struct Block32Dot256<TF, TMac> : IQuantizedDot where TF : IBlock32 where TMac : IMac
{
    /// <summary>
    /// How far ahead of each step decoding prefetches its rows (<see cref="StreamPrefetch"/>). Same process alternating,
    /// medians of 12 rounds, 1 / 2 threads. Q8_0 (one row per call), 6 KB against none: 110M 141 / 241 -> 148 / 263 and
    /// 136 / 204 -> 141 / 217 tok/s, SmolLM2 115 / 183 -> 118 / 192 and 99 / 178 -> 101 / 176 (2–4 KB neutral to
    /// slower, 8–12 KB slower). The unsigned formats (two rows per call, prefetching both), 4 KB against the 2 KB burst
    /// before each pair they had (none for Q5_0), AVX2 path forced on this Zen 4: 110M Q4_0 171 / 308 -> 182 / 324,
    /// SmolLM2 Q4_0 110 / 234 -> 107 / 235, 110M Q5_0 88 / 224 -> 109 / 282, 110M Q4_1 167 / 266 -> 184 / 293 (AVX2)
    /// and 152 / 234 -> 175 / 270 (AVX-512 path). A burst before each row had made Q8_0 18–25 % slower.
    /// </summary>
    private static int PrefetchAhead => TF.Signed ? 6144 : 4096;

    /// <summary>
    /// <see cref="PrefetchAhead"/> for <see cref="TryDotRows"/>, where Q8_0 prefetches into L2 (<see cref="StreamToL2"/>).
    /// Same process alternating, medians of 12 rounds, SmolLM2 / 110M, 1 / 2 threads: into L1 at 8 KB 102 / 192 and
    /// 135 / 205 tok/s; into L2 at 4 KB 101 / 193 and 124 / 202, at 8 KB 117 / 209 and 153 / 230, at 16 KB 119 / 201 and
    /// 155 / 232; 8–24 KB alike in a second run. Into L1 Q8_0 had lost 4–9 % at 6 KB against one row at a time. The
    /// unsigned formats keep 4 KB into L1 (Q4_1 at 8 KB: 206 / 351 -> 178 / 324 on the 110M model).
    /// </summary>
    private static int StreamAhead => TF.Signed ? 12288 : 4096;

    /// <summary>
    /// Whether <see cref="TryDotRows"/> prefetches into L2: Q8_0's streams +13–15 % (above); the unsigned formats lost
    /// 4–9 % that way (110M Q4_0 243 / 455 -> 222 / 417, Q5_0 185 / 308 -> 177 / 294, Q4_K_M 182 / 330 -> 172 / 310).
    /// </summary>
    private static bool StreamToL2 => TF.Signed;

    /// <summary>Σ w·x of one block in natural order, zero point not yet removed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(byte* w, sbyte* x)
    {
        TF.Unsigned(w, out var low, out var high);
        var u = Vector256.Create(low, high);
        var xv = Vector256.Load(x);
        return TF.Signed
            ? TMac.Dot(Vector256<int>.Zero, Avx2.Abs(u.AsSByte()), Avx2.Sign(xv, u.AsSByte()))
            : TMac.Dot(Vector256<int>.Zero, u, xv);
    }

    /// <summary>One block's value apart from the d_w·d_x·Σw·x term: the zero point's and the min's parts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Offset(byte* w, float dx, float sum, int qsum) =>
        (TF.HasMin ? HalfTable.At(w + 2) * sum : 0) - (TF.ZeroPoint != 0 ? HalfTable.At(w) * dx * (TF.ZeroPoint * qsum) : 0);

    /// <summary>Blocks a and b: lanes 0–3 sum to a's Σw·x, lanes 4–7 to b's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairDot(Vector256<byte> low, Vector256<byte> high, sbyte* xLow, sbyte* xHigh) =>
        PairDot(low, high, Vector256.Load(xLow), Vector256.Load(xHigh));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairDot(Vector256<byte> low, Vector256<byte> high, Vector256<sbyte> xl, Vector256<sbyte> xh)
    {
        if (!TF.Signed)
            return TMac.Dot2(low, xl, high, xh);
        var sum = TMac.Dot(Vector256<int>.Zero, Avx2.Abs(low.AsSByte()), Avx2.Sign(xl, low.AsSByte()));
        return TMac.Dot(sum, Avx2.Abs(high.AsSByte()), Avx2.Sign(xh, high.AsSByte()));
    }

    /// <summary>Eight blocks' weights: for pairs (0,1), (2,3), (4,5), (6,7), the low and high halves.</summary>
    private struct Eight
    {
        public Vector256<byte> L01, H01, L23, H23, L45, H45, L67, H67;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Eight(byte* w)
        {
            TF.Pair(w, w + TF.Bytes, out L01, out H01);
            TF.Pair(w + 2 * TF.Bytes, w + 3 * TF.Bytes, out L23, out H23);
            TF.Pair(w + 4 * TF.Bytes, w + 5 * TF.Bytes, out L45, out H45);
            TF.Pair(w + 6 * TF.Bytes, w + 7 * TF.Bytes, out L67, out H67);
        }

        /// <summary>Σw·x per block (lane i = block i) against eight blocks of grouped activations, zero point removed.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector256<float> Dots(sbyte* x, int* qsums)
        {
            var dots = Avx2.HorizontalAdd(
                Avx2.HorizontalAdd(PairDot(L01, H01, x, x + 64), PairDot(L23, H23, x + 32, x + 96)),
                Avx2.HorizontalAdd(PairDot(L45, H45, x + 128, x + 192), PairDot(L67, H67, x + 160, x + 224)));
            // The adds leave blocks in lane order 0 2 4 6 1 3 5 7.
            dots = Avx2.PermuteVar8x32(dots, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
            if (TF.ZeroPoint != 0)
                dots -= Vector256.Load(qsums) * TF.ZeroPoint;
            return Vector256.ConvertToSingle(dots);
        }
    }

    /// <summary>
    /// The eight blocks' half floats at byte <paramref name="at"/> (d at 0, m at 2), one block per lane, as floats.
    /// Eight scalar loads: measured here, vpgatherdd cost a third of the kernel's time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Halves(byte* w, int at)
    {
        w += at;
        var bits = Vector128.Create(*(ushort*)w, *(ushort*)(w + TF.Bytes), *(ushort*)(w + 2 * TF.Bytes), *(ushort*)(w + 3 * TF.Bytes),
            *(ushort*)(w + 4 * TF.Bytes), *(ushort*)(w + 5 * TF.Bytes), *(ushort*)(w + 6 * TF.Bytes), *(ushort*)(w + 7 * TF.Bytes));
        return HalfTable.FiniteFromHighHalves(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(bits).AsInt32(), 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales, s = a.BlockSums;
        int* q = a.QSums;
        Vector256<float> acc = default, accMin = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * TF.Bytes, x += 256)
        {
            StreamPrefetch.Lines(w + PrefetchAhead, 8 * TF.Bytes);
            acc = Vector256.FusedMultiplyAdd(new Eight(w).Dots(x, q + b), Halves(w, 0) * Vector256.Load(d + b), acc);
            if (TF.HasMin)
                accMin = Vector256.FusedMultiplyAdd(Halves(w, 2), Vector256.Load(s + b), accMin);
        }
        return Vector256.Sum(acc + accMin) + Tail(w, x, a, b);
    }

    /// <summary>
    /// The value of blocks [b, a.Blocks) taken one at a time, in natural activation order (a row's last blocks mod 8).
    /// It keeps its own accumulator: one passed by reference would pin the caller's to memory for the whole loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Tail(byte* w, sbyte* x, in ActivationRow a, int b)
    {
        if (b == a.Blocks)
            return 0;
        float* d = a.Scales, s = a.BlockSums;
        int* q = a.QSums;
        var acc = Vector256<float>.Zero;
        float offset = 0;
        // Two blocks per vector as in the main loop, their activations gathered from natural order.
        for (; b + 2 <= a.Blocks; b += 2, w += 2 * TF.Bytes, x += 64)
        {
            TF.Pair(w, w + TF.Bytes, out var low, out var high);
            var dots = PairDot(low, high, Vector256.Create(Vector128.Load(x), Vector128.Load(x + 32)), Vector256.Create(Vector128.Load(x + 16), Vector128.Load(x + 48)));
            var scales = Vector256.Create(Vector128.Create(HalfTable.At(w) * d[b]), Vector128.Create(HalfTable.At(w + TF.Bytes) * d[b + 1]));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dots), scales, acc);
            offset += Offset(w, d[b], s[b], q[b]) + Offset(w + TF.Bytes, d[b + 1], s[b + 1], q[b + 1]);
        }
        for (; b < a.Blocks; b++, w += TF.Bytes, x += 32)
        {
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(w, x)), Vector256.Create(HalfTable.At(w) * d[b]), acc);
            offset += Offset(w, d[b], s[b], q[b]);
        }
        return Vector256.Sum(acc) + offset;
    }

    /// <summary>Two rows against one token: the activations are loaded once and the two reductions overlap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void DotRows2(byte* w0, byte* w1, in ActivationRow a, float* y)
    {
        int blocks = a.Blocks;
        // Q8_0's signed pairs need more registers than two rows leave: measured slower there, so one row at a time.
        if (TF.Signed)
        {
            y[0] = Dot1(w0, a);
            y[1] = Dot1(w1, a);
            return;
        }
        sbyte* x = a.Values;
        float* d = a.Scales, s = a.BlockSums;
        int* q = a.QSums;
        Vector256<float> acc0 = default, acc1 = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w0 += 8 * TF.Bytes, w1 += 8 * TF.Bytes, x += 256)
        {
            StreamPrefetch.Lines(w0 + PrefetchAhead, 8 * TF.Bytes);
            StreamPrefetch.Lines(w1 + PrefetchAhead, 8 * TF.Bytes);
            var dx = Vector256.Load(d + b);
            acc0 = Vector256.FusedMultiplyAdd(new Eight(w0).Dots(x, q + b), Halves(w0, 0) * dx, acc0);
            acc1 = Vector256.FusedMultiplyAdd(new Eight(w1).Dots(x, q + b), Halves(w1, 0) * dx, acc1);
            if (TF.HasMin)
            {
                var sums = Vector256.Load(s + b);
                acc0 = Vector256.FusedMultiplyAdd(Halves(w0, 2), sums, acc0);
                acc1 = Vector256.FusedMultiplyAdd(Halves(w1, 2), sums, acc1);
            }
        }
        y[0] = Vector256.Sum(acc0) + Tail(w0, x, a, b);
        y[1] = Vector256.Sum(acc1) + Tail(w1, x, a, b);
    }

    /// <summary>A tile of rows as one stream of groups of eight blocks (<see cref="RowStream"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining), SkipLocalsInit]
    public static bool TryDotRows(byte* w, int rows, in ActivationRow a, float* y)
    {
        if (!RowStream.Fits(rows, a))
            return false;
        float* values = stackalloc float[RowStream.MaxBlocks];
        var period = a.Period;
        sbyte* x = period.Values;
        float* d = period.Scales, s = period.BlockSums;
        int* q = period.QSums;
        int total = rows * a.Blocks, k = 0, groups = period.Groups;
        for (int b = 0; b < total; b += 8, w += 8 * TF.Bytes)
        {
            StreamPrefetch.Lines(w + StreamAhead, 8 * TF.Bytes, StreamToL2);
            var v = new Eight(w).Dots(x + 256 * k, q + 8 * k) * (Halves(w, 0) * Vector256.Load(d + 8 * k));
            if (TF.HasMin)
                v = Vector256.FusedMultiplyAdd(Halves(w, 2), Vector256.Load(s + 8 * k), v);
            v.Store(values + b);
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
        float* d = period.Scales, s = period.BlockSums;
        int* q = period.QSums;
        // Token j's period is j periods on (ActivationPeriod.Next).
        int xn = 256 * groups, dn = 8 * groups;
        for (int b = 0; b < total; b += 8, w += 8 * TF.Bytes)
        {
            var eight = new Eight(w);
            var dw = Halves(w, 0);
            sbyte* xk = x + 256 * k;
            float* dk = d + 8 * k;
            int* qk = q + 8 * k;
            var v0 = eight.Dots(xk, qk) * (dw * Vector256.Load(dk));
            var v1 = eight.Dots(xk + xn, qk + dn) * (dw * Vector256.Load(dk + dn));
            var v2 = eight.Dots(xk + 2 * xn, qk + 2 * dn) * (dw * Vector256.Load(dk + 2 * dn));
            var v3 = eight.Dots(xk + 3 * xn, qk + 3 * dn) * (dw * Vector256.Load(dk + 3 * dn));
            if (TF.HasMin)
            {
                var m = Halves(w, 2);
                float* sk = s + 8 * k;
                v0 = Vector256.FusedMultiplyAdd(m, Vector256.Load(sk), v0);
                v1 = Vector256.FusedMultiplyAdd(m, Vector256.Load(sk + dn), v1);
                v2 = Vector256.FusedMultiplyAdd(m, Vector256.Load(sk + 2 * dn), v2);
                v3 = Vector256.FusedMultiplyAdd(m, Vector256.Load(sk + 3 * dn), v3);
            }
            v0.Store(values + b);
            v1.Store(values + total + b);
            v2.Store(values + 2 * total + b);
            v3.Store(values + 3 * total + b);
            if (++k == groups)
                k = 0;
        }
        for (int j = 0; j < 4; j++)
            RowStream.SumRows(values + j * total, rows, a.Blocks, y + j * stride);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, n = a.Length;
        sbyte* x = a.Values;
        float* d = a.Scales, s = a.BlockSums;
        int* q = a.QSums;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int b = 0;
        for (; b + 8 <= blocks; b += 8, w += 8 * TF.Bytes, x += 256)
        {
            var eight = new Eight(w);
            var dw = Halves(w, 0);
            acc0 = Vector256.FusedMultiplyAdd(eight.Dots(x, q + b), dw * Vector256.Load(d + b), acc0);
            acc1 = Vector256.FusedMultiplyAdd(eight.Dots(x + n, q + blocks + b), dw * Vector256.Load(d + blocks + b), acc1);
            acc2 = Vector256.FusedMultiplyAdd(eight.Dots(x + 2 * n, q + 2 * blocks + b), dw * Vector256.Load(d + 2 * blocks + b), acc2);
            acc3 = Vector256.FusedMultiplyAdd(eight.Dots(x + 3 * n, q + 3 * blocks + b), dw * Vector256.Load(d + 3 * blocks + b), acc3);
            if (TF.HasMin)
            {
                var m = Halves(w, 2);
                acc0 = Vector256.FusedMultiplyAdd(m, Vector256.Load(s + b), acc0);
                acc1 = Vector256.FusedMultiplyAdd(m, Vector256.Load(s + blocks + b), acc1);
                acc2 = Vector256.FusedMultiplyAdd(m, Vector256.Load(s + 2 * blocks + b), acc2);
                acc3 = Vector256.FusedMultiplyAdd(m, Vector256.Load(s + 3 * blocks + b), acc3);
            }
        }
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        for (; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            float scale = HalfTable.At(w);
            acc0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(w, x)), Vector256.Create(scale * d[b]), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(w, x + n)), Vector256.Create(scale * d[blocks + b]), acc1);
            acc2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(w, x + 2 * n)), Vector256.Create(scale * d[2 * blocks + b]), acc2);
            acc3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot(w, x + 3 * n)), Vector256.Create(scale * d[3 * blocks + b]), acc3);
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
}

/// <summary>32-element formats on Vector128 (SSE or NEON): the same arithmetic with widening multiplies, in natural order.</summary>
internal unsafe struct Block32DotPortable<TF> : IQuantizedDot where TF : IBlock32
{
    /// <summary><paramref name="acc"/> plus one block's Σw·x times <paramref name="scale"/> (d_w·d_x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Block(Vector128<byte> low, Vector128<byte> high, sbyte* x, float scale, Vector128<float> acc)
    {
        var x0 = Vector128.Load(x);
        var x1 = Vector128.Load(x + 16);
        var dot = TF.Signed
            ? PortableMac.DotSigned(low.AsSByte(), x0) + PortableMac.DotSigned(high.AsSByte(), x1)
            : PortableMac.Dot(low, x0) + PortableMac.Dot(high, x1);
        return Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(dot), Vector128.Create(scale), acc);
    }

    /// <summary>One block's value apart from the d_w·d_x·Σw·x term: the min's part (m·d_x·Σq) and the zero point's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Offset(float m, float scale, float sum, int qsum) =>
        (TF.HasMin ? m * sum : 0) - (TF.ZeroPoint != 0 ? scale * (TF.ZeroPoint * qsum) : 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales, s = a.BlockSums;
        int* q = a.QSums;
        var acc = Vector128<float>.Zero;
        float offset = 0;
        for (int b = 0; b < blocks; b++, w += TF.Bytes, x += 32)
        {
            TF.Unsigned(w, out var low, out var high);
            float scale = HalfTable.At(w) * d[b];
            acc = Block(low, high, x, scale, acc);
            offset += Offset(TF.HasMin ? HalfTable.At(w + 2) : 0, scale, s[b], q[b]);
        }
        return Vector128.Sum(acc) + offset;
    }

    /// <summary>
    /// One token at a time: a four-token loop that unpacked each block once measured slower here (Portable path on
    /// x64, SmolLM2 Q4_0, 64-token prefill: 63 -> 57 tok/s): the widening multiplies are the work, not the unpacking.
    /// </summary>
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride) => OneAtATime.Dot4<Block32DotPortable<TF>>(w, a, y, stride);

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => OneAtATime.DotRows2<Block32DotPortable<TF>>(row0, row1, a, y);
}
