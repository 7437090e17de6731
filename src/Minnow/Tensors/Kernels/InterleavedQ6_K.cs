using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Q6_K on <see cref="Interleaved"/> tiles (AVX-512BW). A super-block of sixteen rows is 3,392 bytes (the rows' 3,360
/// and 32 of padding, so the next starts on a cache line): for each half h of the 256 values and u &lt; 8, three vectors
/// in the order the kernel reads them (laid out by kind, the stream jumped about and ran at two thirds of the row
/// kernel's speed from memory) — ql (h, u) and ql (h, u + 8), where ql (h, v) holds in lane r bytes 64h + 4v … of row
/// r's ql, whose low nibbles are the half's values 4v … and high nibbles values 64 + 4v …, and the high bit pairs
/// (h, u): bytes 32h + 4u … of qh, whose bit pair q belongs to value 32q + 4u … — then the int8 scales (four vectors,
/// lane r = four of row r's sixteen) and the sixteen d half floats.
/// <para>
/// For (h, u) the quants A = ql (h, u) and B = ql (h, u + 8) and the bit pairs H give four vectors of six-bit values,
/// 32q + 4u … for q = 0–3: A's and B's low nibbles, A's and B's high nibbles, each with its bit pair moved to bits 4–5.
/// vpmaddubsw against four activation bytes broadcast; two sums fit 16 bits (2 · 2 · 63 · 127 = 32,004), so each
/// sub-block of 16 is two vpmaddwd against its scale repeated in both 16-bit halves of every lane (vpshufb into the
/// high bytes, vpsraw 8: the scales are signed). The offset −32 is Σⱼ scaleⱼ·Σq over the sub-blocks, taken off once.
/// </para>
/// </summary>
internal unsafe struct InterleavedQ6_K : IInterleavedDot
{
    /// <summary>A super-block of sixteen rows in the copy.</summary>
    public const int SuperBlock = 3392;

    private const int ScalesAt = 3072, DAt = 3328;

    /// <summary>Where the vectors of (h, u) start: ql (h, u), ql (h, u + 8) and the bit pairs, 192 bytes in the order the kernel reads them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int At(int h, int u) => 192 * (8 * h + u);

    /// <summary>How far ahead decoding prefetches into L1, a line per vector as it goes (see <see cref="InterleavedQ4_K"/>).</summary>
    private const int PrefetchAhead = 8192;

    /// <summary>Repacks 16 consecutive rows of <paramref name="superBlocks"/> Q6_K super-blocks into one tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(byte* rows, int superBlocks, byte* tile)
    {
        for (int r = 0; r < 16; r++)
            for (int s = 0; s < superBlocks; s++)
            {
                byte* to = tile + (long)s * SuperBlock;
                byte* block = rows + ((long)r * superBlocks + s) * 210;
                for (int h = 0; h < 2; h++)
                    for (int u = 0; u < 8; u++)
                    {
                        *(uint*)(to + At(h, u) + 4 * r) = *(uint*)(block + 64 * h + 4 * u);
                        *(uint*)(to + At(h, u) + 64 + 4 * r) = *(uint*)(block + 64 * h + 4 * (u + 8));
                        *(uint*)(to + At(h, u) + 128 + 4 * r) = *(uint*)(block + 128 + 32 * h + 4 * u);
                    }
                for (int k = 0; k < 4; k++)
                    *(uint*)(to + ScalesAt + 64 * k + 4 * r) = *(uint*)(block + 192 + 4 * k);
                ((ushort*)(to + DAt))[r] = *(ushort*)(block + 208);
            }
        for (int s = 0; s < superBlocks; s++)
            new Span<byte>(tile + (long)s * SuperBlock + DAt + 32, SuperBlock - DAt - 32).Clear();
    }

    /// <summary>vpshufb indices putting byte (j mod 4) of each 32-bit lane into the high byte of both its 16-bit halves (low bytes zero).</summary>
    private static Vector512<sbyte> Repeat => Vector512.Create(
        -128, 0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12,
        -128, 0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12,
        -128, 0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12,
        -128, 0, -128, 0, -128, 4, -128, 4, -128, 8, -128, 8, -128, 12, -128, 12);

    /// <summary>Sub-block <paramref name="j"/>'s signed scale of each row, in both 16-bit halves of its lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Scale(byte* q, Vector512<sbyte> repeat, int j) => Avx512BW.ShiftRightArithmetic(
        Avx512BW.Shuffle(Vector512.Load(q + ScalesAt + 64 * (j >> 2)), (repeat + Vector512.Create((sbyte)(j & 3))).AsByte()).AsInt16(), 8);

    /// <summary>The four six-bit value vectors of (h, u): values 32q + 4u … of the half, q = 0–3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* q, int h, int u, bool prefetch,
        out Vector512<byte> v0, out Vector512<byte> v1, out Vector512<byte> v2, out Vector512<byte> v3)
    {
        byte* a = q + At(h, u), b = a + 64, bits = a + 128;
        if (prefetch)
        {
            Sse.Prefetch0(a + PrefetchAhead);
            Sse.Prefetch0(b + PrefetchAhead);
            Sse.Prefetch0(bits + PrefetchAhead);
        }
        var va = Vector512.Load(a).AsUInt16();
        var vb = Vector512.Load(b).AsUInt16();
        var hb = Vector512.Load(bits).AsUInt16();
        var nibble = Vector512.Create((byte)0x0F);
        var pair = Vector512.Create((byte)0x30);
        v0 = (va.AsByte() & nibble) | (Vector512.ShiftLeft(hb, 4).AsByte() & pair);
        v1 = (vb.AsByte() & nibble) | (Vector512.ShiftLeft(hb, 2).AsByte() & pair);
        v2 = (Vector512.ShiftRightLogical(va, 4).AsByte() & nibble) | (hb.AsByte() & pair);
        v3 = (Vector512.ShiftRightLogical(vb, 4).AsByte() & nibble) | (Vector512.ShiftRightLogical(hb, 2).AsByte() & pair);
    }

    /// <summary>The four value vectors of (h, u) against a token's values at <paramref name="xu"/> (its 128h + 4u), added to <paramref name="s0"/> … <paramref name="s3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3, sbyte* xu,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
    {
        s0 += Avx512BW.MultiplyAddAdjacent(v0, Vector512.Create(*(int*)xu).AsSByte());
        s1 += Avx512BW.MultiplyAddAdjacent(v1, Vector512.Create(*(int*)(xu + 32)).AsSByte());
        s2 += Avx512BW.MultiplyAddAdjacent(v2, Vector512.Create(*(int*)(xu + 64)).AsSByte());
        s3 += Avx512BW.MultiplyAddAdjacent(v3, Vector512.Create(*(int*)(xu + 96)).AsSByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four(byte* q, int h, int u, sbyte* x, bool prefetch,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
    {
        Unpack(q, h, u, prefetch, out var v0, out var v1, out var v2, out var v3);
        Add(v0, v1, v2, v3, x + 128 * h + 4 * u, ref s0, ref s1, ref s2, ref s3);
    }

    /// <summary>Σⱼ scaleⱼ·(Σq over sub-blocks 8h + 2q + g, q = 0–3), the offset term's part for (h, g).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Offsets(Vector512<short> sc0, Vector512<short> sc1, Vector512<short> sc2, Vector512<short> sc3, short* sums) =>
        Avx512BW.MultiplyAddAdjacent(sc0, Vector512.Create((int)(ushort)sums[0]).AsInt16())
        + Avx512BW.MultiplyAddAdjacent(sc1, Vector512.Create((int)(ushort)sums[2]).AsInt16())
        + Avx512BW.MultiplyAddAdjacent(sc2, Vector512.Create((int)(ushort)sums[4]).AsInt16())
        + Avx512BW.MultiplyAddAdjacent(sc3, Vector512.Create((int)(ushort)sums[6]).AsInt16());

    /// <summary>One super-block of sixteen rows against one token: d_x·d·Σⱼ scaleⱼ·(Σu·q − 32·Σq) per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SuperBlockDot(byte* q, sbyte* x, short* sums16, float dx, Vector512<sbyte> repeat, bool prefetch)
    {
        if (prefetch)
            StreamPrefetch.Lines(q + ScalesAt + PrefetchAhead, SuperBlock - ScalesAt);
        Vector512<int> dots = default, offsets = default;
        for (int h = 0; h < 2; h++)
            for (int g = 0; g < 2; g++)
            {
                // Sub-blocks 8h + 2q + g for q = 0–3: u = 4g … 4g + 3, two at a time.
                var sc0 = Scale(q, repeat, 8 * h + g);
                var sc1 = Scale(q, repeat, 8 * h + 2 + g);
                var sc2 = Scale(q, repeat, 8 * h + 4 + g);
                var sc3 = Scale(q, repeat, 8 * h + 6 + g);
                for (int t = 0; t < 2; t++)
                {
                    Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default;
                    Four(q, h, 4 * g + 2 * t, x, prefetch, ref s0, ref s1, ref s2, ref s3);
                    Four(q, h, 4 * g + 2 * t + 1, x, prefetch, ref s0, ref s1, ref s2, ref s3);
                    dots += Avx512BW.MultiplyAddAdjacent(s0, sc0) + Avx512BW.MultiplyAddAdjacent(s1, sc1)
                        + Avx512BW.MultiplyAddAdjacent(s2, sc2) + Avx512BW.MultiplyAddAdjacent(s3, sc3);
                }
                offsets += Offsets(sc0, sc1, sc2, sc3, sums16 + 8 * h + g);
            }
        var sums32 = dots - Avx512F.ShiftLeftLogical(offsets, 5);
        return Vector512.ConvertToSingle(sums32) * InterleavedTile.Scales(q + DAt) * Vector512.Create(dx);
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
            acc += SuperBlockDot(tile + (long)s * SuperBlock, x + 256 * s, sums16 + 16 * s, d[s], repeat, prefetch: true);
        acc.Store(y);
    }

    /// <summary><see cref="SuperBlockDot"/> for two tokens, each (h, u) unpacked once for both (the prompt path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SuperBlockDot2(byte* q, in ActivationRow a, in ActivationRow b, int s, Vector512<sbyte> repeat,
        ref Vector512<float> accA, ref Vector512<float> accB)
    {
        sbyte* xa = a.Values + 256 * s, xb = b.Values + 256 * s;
        Vector512<int> dotsA = default, dotsB = default, offsetsA = default, offsetsB = default;
        for (int h = 0; h < 2; h++)
            for (int g = 0; g < 2; g++)
            {
                var sc0 = Scale(q, repeat, 8 * h + g);
                var sc1 = Scale(q, repeat, 8 * h + 2 + g);
                var sc2 = Scale(q, repeat, 8 * h + 4 + g);
                var sc3 = Scale(q, repeat, 8 * h + 6 + g);
                for (int t = 0; t < 2; t++)
                {
                    Vector512<short> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                    for (int k = 0; k < 2; k++)
                    {
                        int u = 4 * g + 2 * t + k;
                        Unpack(q, h, u, false, out var v0, out var v1, out var v2, out var v3);
                        Add(v0, v1, v2, v3, xa + 128 * h + 4 * u, ref a0, ref a1, ref a2, ref a3);
                        Add(v0, v1, v2, v3, xb + 128 * h + 4 * u, ref b0, ref b1, ref b2, ref b3);
                    }
                    dotsA += Avx512BW.MultiplyAddAdjacent(a0, sc0) + Avx512BW.MultiplyAddAdjacent(a1, sc1)
                        + Avx512BW.MultiplyAddAdjacent(a2, sc2) + Avx512BW.MultiplyAddAdjacent(a3, sc3);
                    dotsB += Avx512BW.MultiplyAddAdjacent(b0, sc0) + Avx512BW.MultiplyAddAdjacent(b1, sc1)
                        + Avx512BW.MultiplyAddAdjacent(b2, sc2) + Avx512BW.MultiplyAddAdjacent(b3, sc3);
                }
                offsetsA += Offsets(sc0, sc1, sc2, sc3, a.Sums16 + 16 * s + 8 * h + g);
                offsetsB += Offsets(sc0, sc1, sc2, sc3, b.Sums16 + 16 * s + 8 * h + g);
            }
        var d = InterleavedTile.Scales(q + DAt);
        accA += Vector512.ConvertToSingle(dotsA - Avx512F.ShiftLeftLogical(offsetsA, 5)) * d * Vector512.Create(a.Scales[s]);
        accB += Vector512.ConvertToSingle(dotsB - Avx512F.ShiftLeftLogical(offsetsB, 5)) * d * Vector512.Create(b.Scales[s]);
    }

    /// <summary>Four tokens (the prompt path), two at a time (four would spill the registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        var repeat = Repeat;
        for (int k = 0; k < 4; k += 2)
        {
            var first = a.Next(k);
            var second = a.Next(k + 1);
            Vector512<float> acc0 = default, acc1 = default;
            for (int s = 0; s < a.Blocks; s++)
                SuperBlockDot2(tile + (long)s * SuperBlock, first, second, s, repeat, ref acc0, ref acc1);
            acc0.Store(y + k * stride);
            acc1.Store(y + (k + 1) * stride);
        }
    }
}
