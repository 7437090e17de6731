using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Per-chunk multipliers from a super-block's 16 sub-block scales (16-bit lanes, [s0…s7 | s8…s15]): chunk k of 32
/// elements needs s2k in its low eight lanes and s2k+1 in its high eight. vpshufb only picks within 128-bit halves, so
/// the scales are first copied to both halves (scales 0–7 for chunks 0–3, 8–15 for chunks 4–7).
/// </summary>
internal readonly struct ChunkScales(Vector256<short> scales)
{
    private readonly Vector256<byte> _low = Avx2.Permute2x128(scales, scales, 0x00).AsByte();
    private readonly Vector256<byte> _high = Avx2.Permute2x128(scales, scales, 0x11).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<short> Chunk(int k)
    {
        // Byte indices: low half picks scale 2(k%4) (bytes 4q, 4q+1), high half scale 2(k%4)+1 (bytes 4q+2, 4q+3).
        var q = Vector256.Create((byte)(4 * (k & 3)));
        var pick = Vector256.Create(Vector128.Create((ushort)0x0100).AsByte(), Vector128.Create((ushort)0x0302).AsByte()) + q;
        return Avx2.Shuffle(k < 4 ? _low : _high, pick).AsInt16();
    }
}

/// <summary>
/// K-quants on 256-bit vectors, AVX2 or AVX-VNNI, as ggml does it: per 32-element chunk vpmaddubsw gives pair sums of
/// u·q and vpmaddwd multiplies them by the chunk's integer sub-block scales while summing, so a super-block of 256
/// stays in integers until one convert and two float multiply-adds (d_x·dA·Σ scale·u·q and −d_x·dB·Σ offset·Σq).
/// </summary>
internal unsafe struct SuperBlockDot256<TK, TMac> : IQuantizedDot where TK : ISuperBlock where TMac : IMac
{
    /// <summary>Adds one super-block's value for one token to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Accumulate(Vector256<float> acc, Vector256<int> scaled, Vector256<short> offsets, short* sums, float dA, float dB) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(offsets, Vector256.Load(sums))), Vector256.Create(-dB),
            Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(scaled), Vector256.Create(dA), acc));

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums = a.Sums16;
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            // The 512-bit kernel's steady prefetch (see there). Measured here by forcing the AVX2 path on this Zen 4,
            // same process alternating, 1 / 2 threads: 110M Q4_K 194 / 355 -> 207 / 392 tok/s, Q6_K 164 / 224 ->
            // 160 / 221, SmolLM2 Q4_K_M 108 / 192 -> 111 / 190.
            StreamPrefetch.Lines(w + 4096, TK.Bytes);
            TK.Scales(w, out var scales, out var offsets);
            var chunks = new ChunkScales(scales);
            // Unrolled, so every chunk's shifts, offsets and shuffle masks are constants.
            var dot = TMac.DotScaled(Vector256<int>.Zero, TK.Unsigned32(w, 0), Vector256.Load(x), chunks.Chunk(0));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 1), Vector256.Load(x + 32), chunks.Chunk(1));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 2), Vector256.Load(x + 64), chunks.Chunk(2));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 3), Vector256.Load(x + 96), chunks.Chunk(3));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 4), Vector256.Load(x + 128), chunks.Chunk(4));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 5), Vector256.Load(x + 160), chunks.Chunk(5));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 6), Vector256.Load(x + 192), chunks.Chunk(6));
            dot = TMac.DotScaled(dot, TK.Unsigned32(w, 7), Vector256.Load(x + 224), chunks.Chunk(7));
            acc = Accumulate(acc, dot, offsets, sums, HalfTable.At(w + TK.ScaleAt) * d[b], HalfTable.At(w + TK.MinAt) * d[b]);
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, n = a.Length, sumStride = n / 16;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums = a.Sums16;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            TK.Scales(w, out var scales, out var offsets);
            var chunks = new ChunkScales(scales);
            Vector256<int> dot0 = default, dot1 = default, dot2 = default, dot3 = default;
            for (int k = 0; k < 8; k++)
            {
                var u = TK.Unsigned32(w, k);
                var chunk = chunks.Chunk(k);
                dot0 = TMac.DotScaled(dot0, u, Vector256.Load(x + 32 * k), chunk);
                dot1 = TMac.DotScaled(dot1, u, Vector256.Load(x + n + 32 * k), chunk);
                dot2 = TMac.DotScaled(dot2, u, Vector256.Load(x + 2 * n + 32 * k), chunk);
                dot3 = TMac.DotScaled(dot3, u, Vector256.Load(x + 3 * n + 32 * k), chunk);
            }
            float dA = HalfTable.At(w + TK.ScaleAt), dB = HalfTable.At(w + TK.MinAt);
            acc0 = Accumulate(acc0, dot0, offsets, sums, dA * d[b], dB * d[b]);
            acc1 = Accumulate(acc1, dot1, offsets, sums + sumStride, dA * d[blocks + b], dB * d[blocks + b]);
            acc2 = Accumulate(acc2, dot2, offsets, sums + 2 * sumStride, dA * d[2 * blocks + b], dB * d[2 * blocks + b]);
            acc3 = Accumulate(acc3, dot3, offsets, sums + 3 * sumStride, dA * d[3 * blocks + b], dB * d[3 * blocks + b]);
        }
        y[0] = Vector256.Sum(acc0);
        y[stride] = Vector256.Sum(acc1);
        y[2 * stride] = Vector256.Sum(acc2);
        y[3 * stride] = Vector256.Sum(acc3);
    }

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => OneAtATime.DotRows2<SuperBlockDot256<TK, TMac>>(row0, row1, a, y);
}

/// <summary>K-quants on 512-bit AVX-512BW vectors: two 32-element chunks (four sub-block scales) per multiply-add.</summary>
internal unsafe struct SuperBlockDot512<TK> : IQuantizedDot where TK : ISuperBlock
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> DotScaled(Vector512<int> acc, Vector512<byte> u, sbyte* x, Vector512<short> scales) =>
        acc + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, Vector512.Load(x)), scales);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Join<T>(Vector256<T> low, Vector256<T> high) => low.ToVector512Unsafe().WithUpper(high);

    /// <summary>
    /// vpermw indices giving chunks 2j and 2j+1 their sub-block scales (lane i of the pair's 32 pair sums takes scale
    /// 4j + i/8): one permute per pair in place of <see cref="ChunkScales"/>' two shuffles and an insert. Built before
    /// the loop (see <see cref="Loop512"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> PairScales(int j) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)(4 * j)), Vector128.Create((short)(4 * j + 1))),
        Vector256.Create(Vector128.Create((short)(4 * j + 2)), Vector128.Create((short)(4 * j + 3))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Accumulate(Vector512<float> acc, Vector512<int> scaled, Vector256<short> offsets, short* sums, float dA, float dB)
    {
        var mins = Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(offsets, Vector256.Load(sums))).ToVector512();
        return Vector512.FusedMultiplyAdd(mins, Vector512.Create(-dB), Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(scaled), Vector512.Create(dA), acc));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums = a.Sums16;
        var acc = Vector512<float>.Zero;
        Vector512<short> pair0 = PairScales(0), pair1 = PairScales(1), pair2 = PairScales(2), pair3 = PairScales(3);
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            // A steady prefetch 4 KB ahead (a burst before each row had made the K-quants slower). Same process
            // alternating, medians of 12 rounds, against none, 1 / 2 threads: 110M Q4_K 158 / 276 -> 158 / 292 tok/s,
            // Q6_K 126 / 182 -> 126 / 223, Q4_K_M 139 / 250 -> 172 / 250 and 138 / 230 -> 149 / 243; SmolLM2 Q4_K_M
            // 90 / 149 -> 94 / 151 and 120 / 192 -> 117 / 193.
            if (Sse.IsSupported)
                StreamPrefetch.Lines(w + 4096, TK.Bytes);
            TK.Scales(w, out var scales, out var offsets);
            var all = scales.ToVector512Unsafe();
            var dot = DotScaled(Vector512<int>.Zero, Join(TK.Unsigned32(w, 0), TK.Unsigned32(w, 1)), x, Avx512BW.PermuteVar32x16(all, pair0));
            dot = DotScaled(dot, Join(TK.Unsigned32(w, 2), TK.Unsigned32(w, 3)), x + 64, Avx512BW.PermuteVar32x16(all, pair1));
            dot = DotScaled(dot, Join(TK.Unsigned32(w, 4), TK.Unsigned32(w, 5)), x + 128, Avx512BW.PermuteVar32x16(all, pair2));
            dot = DotScaled(dot, Join(TK.Unsigned32(w, 6), TK.Unsigned32(w, 7)), x + 192, Avx512BW.PermuteVar32x16(all, pair3));
            acc = Accumulate(acc, dot, offsets, sums, HalfTable.At(w + TK.ScaleAt) * d[b], HalfTable.At(w + TK.MinAt) * d[b]);
        }
        return Vector512.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks, n = a.Length, sumStride = n / 16;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums = a.Sums16;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector512<short> pair0 = PairScales(0), pair1 = PairScales(1), pair2 = PairScales(2), pair3 = PairScales(3);
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            TK.Scales(w, out var scales, out var offsets);
            var all = scales.ToVector512Unsafe();
            Vector512<int> dot0 = default, dot1 = default, dot2 = default, dot3 = default;
            for (int k = 0; k < 8; k += 2)
            {
                var u = Join(TK.Unsigned32(w, k), TK.Unsigned32(w, k + 1));
                var chunk = Avx512BW.PermuteVar32x16(all, k switch { 0 => pair0, 2 => pair1, 4 => pair2, _ => pair3 });
                dot0 = DotScaled(dot0, u, x + 32 * k, chunk);
                dot1 = DotScaled(dot1, u, x + n + 32 * k, chunk);
                dot2 = DotScaled(dot2, u, x + 2 * n + 32 * k, chunk);
                dot3 = DotScaled(dot3, u, x + 3 * n + 32 * k, chunk);
            }
            float dA = HalfTable.At(w + TK.ScaleAt), dB = HalfTable.At(w + TK.MinAt);
            acc0 = Accumulate(acc0, dot0, offsets, sums, dA * d[b], dB * d[b]);
            acc1 = Accumulate(acc1, dot1, offsets, sums + sumStride, dA * d[blocks + b], dB * d[blocks + b]);
            acc2 = Accumulate(acc2, dot2, offsets, sums + 2 * sumStride, dA * d[2 * blocks + b], dB * d[2 * blocks + b]);
            acc3 = Accumulate(acc3, dot3, offsets, sums + 3 * sumStride, dA * d[3 * blocks + b], dB * d[3 * blocks + b]);
        }
        y[0] = Vector512.Sum(acc0);
        y[stride] = Vector512.Sum(acc1);
        y[2 * stride] = Vector512.Sum(acc2);
        y[3 * stride] = Vector512.Sum(acc3);
    }

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => OneAtATime.DotRows2<SuperBlockDot512<TK>>(row0, row1, a, y);
}

/// <summary>K-quants on Vector128 (SSE or NEON): per 16 values, a widening dot times the sub-block scale.</summary>
internal unsafe struct SuperBlockDotPortable<TK> : IQuantizedDot where TK : ISuperBlock
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot1(byte* w, in ActivationRow a)
    {
        int blocks = a.Blocks;
        sbyte* x = a.Values;
        float* d = a.Scales;
        short* sums = a.Sums16;
        short* scale = stackalloc short[16], offset = stackalloc short[16];
        float total = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            var block = new ReadOnlySpan<byte>(w, TK.Bytes);
            KQuants.SubScales(TK.Type, block, new Span<short>(scale, 16), new Span<short>(offset, 16));
            var acc = Vector128<int>.Zero;
            int offsets = 0;
            for (int j = 0; j < 16; j++)
            {
                acc += PortableMac.Dot(TK.Unsigned16(w, j), Vector128.Load(x + 16 * j)) * scale[j];
                offsets += offset[j] * sums[j];
            }
            total += d[b] * (HalfTable.At(w + TK.ScaleAt) * Vector128.Sum(acc) - HalfTable.At(w + TK.MinAt) * offsets);
        }
        return total;
    }

    public static void Dot4(byte* w, in ActivationRow a, float* y, int stride) => OneAtATime.Dot4<SuperBlockDotPortable<TK>>(w, a, y, stride);

    public static void DotRows2(byte* row0, byte* row1, in ActivationRow a, float* y) => OneAtATime.DotRows2<SuperBlockDotPortable<TK>>(row0, row1, a, y);
}
