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
        for (int s = 0; s < superBlocks; s++)
        {
            byte* to = tile + (long)s * SuperBlock;
            for (int r = 0; r < 16; r++)
            {
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
            new Span<byte>(to + DAt + 32, SuperBlock - DAt - 32).Clear();
        }
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

    /// <summary>The four six-bit value vectors of (h, u), each against its four activation bytes, added to <paramref name="s0"/> … <paramref name="s3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four(byte* q, int h, int u, sbyte* x, bool prefetch,
        ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3)
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
        sbyte* xu = x + 128 * h + 4 * u;
        s0 += Avx512BW.MultiplyAddAdjacent((va.AsByte() & nibble) | (Vector512.ShiftLeft(hb, 4).AsByte() & pair), Vector512.Create(*(int*)xu).AsSByte());
        s1 += Avx512BW.MultiplyAddAdjacent((vb.AsByte() & nibble) | (Vector512.ShiftLeft(hb, 2).AsByte() & pair), Vector512.Create(*(int*)(xu + 32)).AsSByte());
        s2 += Avx512BW.MultiplyAddAdjacent((Vector512.ShiftRightLogical(va, 4).AsByte() & nibble) | (hb.AsByte() & pair), Vector512.Create(*(int*)(xu + 64)).AsSByte());
        s3 += Avx512BW.MultiplyAddAdjacent((Vector512.ShiftRightLogical(vb, 4).AsByte() & nibble) | (Vector512.ShiftRightLogical(hb, 2).AsByte() & pair),
            Vector512.Create(*(int*)(xu + 96)).AsSByte());
    }

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
                short* sums = sums16 + 8 * h + g;
                offsets += Avx512BW.MultiplyAddAdjacent(sc0, Vector512.Create((int)(ushort)sums[0]).AsInt16())
                    + Avx512BW.MultiplyAddAdjacent(sc1, Vector512.Create((int)(ushort)sums[2]).AsInt16())
                    + Avx512BW.MultiplyAddAdjacent(sc2, Vector512.Create((int)(ushort)sums[4]).AsInt16())
                    + Avx512BW.MultiplyAddAdjacent(sc3, Vector512.Create((int)(ushort)sums[6]).AsInt16());
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Tile4(byte* tile, in ActivationRow a, float* y, int stride)
    {
        int blocks = a.Blocks;
        var a1 = a.Next(1);
        var a2 = a.Next(2);
        var a3 = a.Next(3);
        var repeat = Repeat;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int s = 0; s < blocks; s++)
        {
            byte* q = tile + (long)s * SuperBlock;
            acc0 += SuperBlockDot(q, a.Values + 256 * s, a.Sums16 + 16 * s, a.Scales[s], repeat, prefetch: false);
            acc1 += SuperBlockDot(q, a1.Values + 256 * s, a1.Sums16 + 16 * s, a1.Scales[s], repeat, prefetch: false);
            acc2 += SuperBlockDot(q, a2.Values + 256 * s, a2.Sums16 + 16 * s, a2.Scales[s], repeat, prefetch: false);
            acc3 += SuperBlockDot(q, a3.Values + 256 * s, a3.Sums16 + 16 * s, a3.Scales[s], repeat, prefetch: false);
        }
        acc0.Store(y);
        acc1.Store(y + stride);
        acc2.Store(y + 2 * stride);
        acc3.Store(y + 3 * stride);
    }
}
