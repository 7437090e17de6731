using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>The integer scales of one super-block, unpacked once and shared by every token of a batch.</summary>
internal unsafe ref struct SuperBlockScales
{
    public fixed short Scale[16];
    public fixed short Offset[16];
    public float A, B;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Read(DType type, byte* block, int bytes)
    {
        var b = new ReadOnlySpan<byte>(block, bytes);
        fixed (short* scale = Scale, offset = Offset)
            KQuants.SubScales(type, b, new Span<short>(scale, 16), new Span<short>(offset, 16));
        (A, B) = KQuants.SuperScales(type, b);
    }

    /// <summary>16-bit lanes 0–7 = scale 2k, 8–15 = scale 2k+1: the multipliers of chunk k's pair sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<short> ChunkScales(int k) => Vector256.Create(Vector128.Create(Scale[2 * k]), Vector128.Create(Scale[2 * k + 1]));

    /// <summary>Σⱼ offsetⱼ·(Σq over the 16 values j), from the activation's per-16 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Offsets(short* sums16)
    {
        fixed (short* offset = Offset)
            return Vector256.Sum(Avx2.MultiplyAddAdjacent(Vector256.Load(offset), Vector256.Load(sums16)));
    }

    /// <summary>The super-block's contribution: d_x·(dA·Σ scale·u·q − dB·Σ offset·Σq).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Combine(float dx, int scaled, int offsets) => dx * (A * scaled - B * offsets);
}

/// <summary>
/// K-quants on 256-bit vectors, AVX2 or AVX-VNNI, as ggml does it: per 32-element chunk, vpmaddubsw gives pair sums of
/// u·q and vpmaddwd multiplies them by the chunk's integer sub-block scales while summing, so a super-block of 256
/// stays in integers until one float multiply-add.
/// </summary>
internal unsafe struct SuperBlockDot256<TK, TMac> : IQuantizedDot where TK : ISuperBlock where TMac : IMac
{
    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / KQuants.Size;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t);
        short* sums = a.Sums16(t);
        SuperBlockScales s = default;
        float total = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            s.Read(TK.Type, w, TK.Bytes);
            var acc = Vector256<int>.Zero;
            for (int k = 0; k < 8; k++)
                acc = TMac.DotScaled(acc, TK.Unsigned32(w, k), Vector256.Load(x + 32 * k), s.ChunkScales(k));
            total += s.Combine(d[b], Vector256.Sum(acc), s.Offsets(sums));
        }
        return total;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / KQuants.Size, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t);
        short* sums = a.Sums16(t);
        int sumStride = n / 16;
        SuperBlockScales s = default;
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            s.Read(TK.Type, w, TK.Bytes);
            Vector256<int> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            for (int k = 0; k < 8; k++)
            {
                var u = TK.Unsigned32(w, k);
                var scales = s.ChunkScales(k);
                acc0 = TMac.DotScaled(acc0, u, Vector256.Load(x + 32 * k), scales);
                acc1 = TMac.DotScaled(acc1, u, Vector256.Load(x + n + 32 * k), scales);
                acc2 = TMac.DotScaled(acc2, u, Vector256.Load(x + 2 * n + 32 * k), scales);
                acc3 = TMac.DotScaled(acc3, u, Vector256.Load(x + 3 * n + 32 * k), scales);
            }
            t0 += s.Combine(d[b], Vector256.Sum(acc0), s.Offsets(sums));
            t1 += s.Combine(d[blocks + b], Vector256.Sum(acc1), s.Offsets(sums + sumStride));
            t2 += s.Combine(d[2 * blocks + b], Vector256.Sum(acc2), s.Offsets(sums + 2 * sumStride));
            t3 += s.Combine(d[3 * blocks + b], Vector256.Sum(acc3), s.Offsets(sums + 3 * sumStride));
        }
        y[0] = t0;
        y[stride] = t1;
        y[2 * stride] = t2;
        y[3 * stride] = t3;
    }
}

/// <summary>K-quants on 512-bit AVX-512BW vectors: two 32-element chunks (four sub-block scales) per multiply-add.</summary>
internal unsafe struct SuperBlockDot512<TK> : IQuantizedDot where TK : ISuperBlock
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> DotScaled(Vector512<int> acc, Vector512<byte> u, sbyte* x, Vector512<short> scales) =>
        acc + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, Vector512.Load(x)), scales);

    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / KQuants.Size;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t);
        short* sums = a.Sums16(t);
        SuperBlockScales s = default;
        float total = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            s.Read(TK.Type, w, TK.Bytes);
            var acc = Vector512<int>.Zero;
            for (int k = 0; k < 8; k += 2)
            {
                var u = Vector512.Create(TK.Unsigned32(w, k), TK.Unsigned32(w, k + 1));
                acc = DotScaled(acc, u, x + 32 * k, Vector512.Create(s.ChunkScales(k), s.ChunkScales(k + 1)));
            }
            total += s.Combine(d[b], Vector512.Sum(acc), s.Offsets(sums));
        }
        return total;
    }

    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        int blocks = a.Length / KQuants.Size, n = a.Length;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t);
        short* sums = a.Sums16(t);
        int sumStride = n / 16;
        SuperBlockScales s = default;
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            s.Read(TK.Type, w, TK.Bytes);
            Vector512<int> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            for (int k = 0; k < 8; k += 2)
            {
                var u = Vector512.Create(TK.Unsigned32(w, k), TK.Unsigned32(w, k + 1));
                var scales = Vector512.Create(s.ChunkScales(k), s.ChunkScales(k + 1));
                acc0 = DotScaled(acc0, u, x + 32 * k, scales);
                acc1 = DotScaled(acc1, u, x + n + 32 * k, scales);
                acc2 = DotScaled(acc2, u, x + 2 * n + 32 * k, scales);
                acc3 = DotScaled(acc3, u, x + 3 * n + 32 * k, scales);
            }
            t0 += s.Combine(d[b], Vector512.Sum(acc0), s.Offsets(sums));
            t1 += s.Combine(d[blocks + b], Vector512.Sum(acc1), s.Offsets(sums + sumStride));
            t2 += s.Combine(d[2 * blocks + b], Vector512.Sum(acc2), s.Offsets(sums + 2 * sumStride));
            t3 += s.Combine(d[3 * blocks + b], Vector512.Sum(acc3), s.Offsets(sums + 3 * sumStride));
        }
        y[0] = t0;
        y[stride] = t1;
        y[2 * stride] = t2;
        y[3 * stride] = t3;
    }
}

/// <summary>K-quants on Vector128 (SSE or NEON): per 16 values, a widening dot times the sub-block scale.</summary>
internal unsafe struct SuperBlockDotPortable<TK> : IQuantizedDot where TK : ISuperBlock
{
    public static float Dot1(byte* w, QuantizedActivations a, int t)
    {
        int blocks = a.Length / KQuants.Size;
        sbyte* x = a.Values(t);
        float* d = a.Scales(t);
        short* sums = a.Sums16(t);
        SuperBlockScales s = default;
        float total = 0;
        for (int b = 0; b < blocks; b++, w += TK.Bytes, x += KQuants.Size, sums += 16)
        {
            s.Read(TK.Type, w, TK.Bytes);
            var acc = Vector128<int>.Zero;
            int offsets = 0;
            for (int j = 0; j < 16; j++)
            {
                acc += PortableMac.Dot(TK.Unsigned16(w, j), Vector128.Load(x + 16 * j)) * s.Scale[j];
                offsets += s.Offset[j] * sums[j];
            }
            total += s.Combine(d[b], Vector128.Sum(acc), offsets);
        }
        return total;
    }

    /// <summary>Four single-token products: the portable path has no shared-decode batch kernel.</summary>
    public static void Dot4(byte* w, QuantizedActivations a, int t, float* y, int stride)
    {
        for (int k = 0; k < 4; k++)
            y[k * stride] = Dot1(w, a, t + k);
    }
}
