using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// A K-quant super-block of 256 seen by the kernels: unsigned quants u (see <see cref="KQuants.Unsigned"/>) in
/// chunks of 32 (the 256-bit paths) or 16 (the portable path), with the integer sub-block scales and offsets of
/// <see cref="KQuants.SubScales"/>. The dot with Q8_K-style activations (one d per 256, Σq per 16) is
/// d·(dA·Σⱼ scaleⱼ·Σu·q − dB·Σⱼ offsetⱼ·Σq), all integer inside the super-block.
/// Shifts are on 16-bit lanes followed by a byte mask, which is exact for shift counts below 8.
/// </summary>
internal unsafe interface ISuperBlock : IQuantFormat
{
    static abstract int Bytes { get; }
    /// <summary>Byte offsets of the half floats dA and dB.</summary>
    static abstract int ScaleAt { get; }
    static abstract int MinAt { get; }
    /// <summary>The 16 per-16 sub-block scales and offsets of <see cref="KQuants.SubScales"/>, unpacked with AVX2.</summary>
    static abstract void Scales(byte* block, out Vector256<short> scales, out Vector256<short> offsets);
    /// <summary>u of elements 32k … 32k+31.</summary>
    static abstract Vector256<byte> Unsigned32(byte* block, int k);
    /// <summary>u of elements 16j … 16j+15.</summary>
    static abstract Vector128<byte> Unsigned16(byte* block, int j);
}

internal static unsafe class Bits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Field32(byte* p, int shift, byte mask) =>
        Vector256.ShiftRightLogical(Vector256.Load(p).AsUInt16(), shift).AsByte() & Vector256.Create(mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Field16(byte* p, int shift, byte mask) =>
        Vector128.ShiftRightLogical(Vector128.Load(p).AsUInt16(), shift).AsByte() & Vector128.Create(mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Up(Vector256<byte> v, int shift) => Vector256.ShiftLeft(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Up(Vector128<byte> v, int shift) => Vector128.ShiftLeft(v.AsUInt16(), shift).AsByte();
}

/// <summary>Q4_K/Q5_K's twelve bytes of six-bit scales and mins (see <see cref="KQuants.ScaleMin"/>), unpacked 32 bits at a time.</summary>
internal static unsafe class KScales
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMin(byte* s, out Vector256<short> scales, out Vector256<short> mins)
    {
        uint u0 = *(uint*)s, u1 = *(uint*)(s + 4), u2 = *(uint*)(s + 8);
        const uint six = 0x3F3F3F3F, four = 0x0F0F0F0F, two = 0x03030303;
        ulong sc = (u0 & six) | (ulong)((u2 & four) | (u0 >> 6 & two) << 4) << 32;
        ulong m = (u1 & six) | (ulong)((u2 >> 4 & four) | (u1 >> 6 & two) << 4) << 32;
        var packed = Vector128.Create(sc, m).AsByte();
        // Each per-32 value twice, once per 16 elements.
        scales = Avx2.ConvertToVector256Int16(Sse2.UnpackLow(packed, packed)).AsInt16();
        mins = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(packed, packed)).AsInt16();
    }
}

/// <summary>Q2_K: qs (2 bits) at 16: chunk k = bit pair k%4 of bytes 32·(k/4) …</summary>
internal unsafe struct Q2_KFormat : ISuperBlock
{
    public static DType Type => DType.Q2_K;
    public static int Bytes => 84;
    public static int ScaleAt => 80;
    public static int MinAt => 82;
    public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> offsets)
    {
        var packed = Vector128.Load(b);
        scales = Avx2.ConvertToVector256Int16(packed & Vector128.Create((byte)0xF)).AsInt16();
        offsets = Avx2.ConvertToVector256Int16(Vector128.ShiftRightLogical(packed, 4)).AsInt16();
    }
    public static Vector256<byte> Unsigned32(byte* b, int k) => Bits.Field32(b + 16 + 32 * (k >> 2), 2 * (k & 3), 3);
    public static Vector128<byte> Unsigned16(byte* b, int j) => Bits.Field16(b + 16 + 32 * (j >> 3) + 16 * (j & 1), 2 * (j >> 1 & 3), 3);
}

/// <summary>Q3_K: hmask at 0 (bit k of byte l is the high bit of element 32k+l), qs (2 bits) at 32 as Q2_K.</summary>
internal unsafe struct Q3_KFormat : ISuperBlock
{
    public static DType Type => DType.Q3_K;
    public static int Bytes => 110;
    public static int ScaleAt => 108;
    public static int MinAt => 108;
    public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> offsets)
    {
        // Low nibbles: bytes 0–7 hold scales 0–7 (low) and 8–15 (high); top two bits: byte 8 + j%4, bit pair j/4.
        ulong low = *(ulong*)(b + 96);
        uint high = *(uint*)(b + 104);
        const uint pairs = 0x03030303;
        ulong top0 = (high & pairs) | (ulong)(high >> 2 & pairs) << 32, top1 = (high >> 4 & pairs) | (ulong)(high >> 6 & pairs) << 32;
        const ulong nibbles = 0x0F0F0F0F0F0F0F0F;
        var six = Vector128.Create((low & nibbles) | top0 << 4, (low >> 4 & nibbles) | top1 << 4).AsSByte();
        scales = Avx2.ConvertToVector256Int16(six - Vector128.Create((sbyte)32));
        offsets = Vector256.ShiftLeft(scales, 2);
    }
    public static Vector256<byte> Unsigned32(byte* b, int k) =>
        Bits.Field32(b + 32 + 32 * (k >> 2), 2 * (k & 3), 3) | Bits.Up(Bits.Field32(b, k, 1), 2);
    public static Vector128<byte> Unsigned16(byte* b, int j) =>
        Bits.Field16(b + 32 + 32 * (j >> 3) + 16 * (j & 1), 2 * (j >> 1 & 3), 3) | Bits.Up(Bits.Field16(b + 16 * (j & 1), j >> 1, 1), 2);
}

/// <summary>Q4_K: qs (4 bits) at 16: chunk k = low (k even) or high nibbles of bytes 32·(k/2) …</summary>
internal unsafe struct Q4_KFormat : ISuperBlock
{
    public static DType Type => DType.Q4_K;
    public static int Bytes => 144;
    public static int ScaleAt => 0;
    public static int MinAt => 2;
    public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> offsets) => KScales.ScaleMin(b + 4, out scales, out offsets);
    public static Vector256<byte> Unsigned32(byte* b, int k) => Bits.Field32(b + 16 + 32 * (k >> 1), 4 * (k & 1), 0xF);
    public static Vector128<byte> Unsigned16(byte* b, int j) => Bits.Field16(b + 16 + 32 * (j >> 2) + 16 * (j & 1), 4 * (j >> 1 & 1), 0xF);
}

/// <summary>Q5_K: qh at 16 (bit k of byte l is the fifth bit of element 32k+l), qs (4 bits) at 48 as Q4_K.</summary>
internal unsafe struct Q5_KFormat : ISuperBlock
{
    public static DType Type => DType.Q5_K;
    public static int Bytes => 176;
    public static int ScaleAt => 0;
    public static int MinAt => 2;
    public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> offsets) => KScales.ScaleMin(b + 4, out scales, out offsets);
    public static Vector256<byte> Unsigned32(byte* b, int k) =>
        Bits.Field32(b + 48 + 32 * (k >> 1), 4 * (k & 1), 0xF) | Bits.Up(Bits.Field32(b + 16, k, 1), 4);
    public static Vector128<byte> Unsigned16(byte* b, int j) =>
        Bits.Field16(b + 48 + 32 * (j >> 2) + 16 * (j & 1), 4 * (j >> 1 & 1), 0xF) | Bits.Up(Bits.Field16(b + 16 + 16 * (j & 1), j >> 1, 1), 4);
}

/// <summary>
/// Q6_K: ql (4 bits) at 0: in half h, chunk q (0–3) is the low (q &lt; 2) or high nibbles of bytes 64h + 32·(q%2) …;
/// qh (2 bits) at 128: bit pair q of bytes 128 + 32h …
/// </summary>
internal unsafe struct Q6_KFormat : ISuperBlock
{
    public static DType Type => DType.Q6_K;
    public static int Bytes => 210;
    public static int ScaleAt => 208;
    public static int MinAt => 208;
    public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> offsets)
    {
        scales = Avx2.ConvertToVector256Int16((sbyte*)b + 192);
        offsets = Vector256.ShiftLeft(scales, 5);
    }
    public static Vector256<byte> Unsigned32(byte* b, int k)
    {
        int half = k >> 2, q = k & 3;
        return Bits.Field32(b + 64 * half + 32 * (q & 1), 4 * (q >> 1), 0xF) | Bits.Up(Bits.Field32(b + 128 + 32 * half, 2 * q, 3), 4);
    }
    public static Vector128<byte> Unsigned16(byte* b, int j)
    {
        int half = j >> 3, q = j >> 1 & 3, l = 16 * (j & 1);
        return Bits.Field16(b + 64 * half + 32 * (q & 1) + l, 4 * (q >> 1), 0xF) | Bits.Up(Bits.Field16(b + 128 + 32 * half + l, 2 * q, 3), 4);
    }
}
