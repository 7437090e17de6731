using Minnow.Tensors;

namespace Minnow.Compression.Quantization;

/// <summary>
/// ggml's "K-quants": super-blocks of 256 elements split into sub-blocks of 16 or 32, each with a small integer scale
/// (and for some a min) that multiplies a half-float super-block scale d (and dmin). Layouts (bytes, in order):
/// <list type="bullet">
/// <item>Q2_K (84): scales[16] (low nibble: scale, high nibble: min, per 16 elements), qs[64] (2 bits), d, dmin —
/// x = d·sc·q − dmin·m.</item>
/// <item>Q3_K (110): hmask[32] (high bit), qs[64] (low 2 bits), scales[12] (16 six-bit scales, offset 32), d —
/// x = d·(sc − 32)·(q − 4), where the high bit set means no −4.</item>
/// <item>Q4_K (144): d, dmin, scales[12] (8 six-bit scales and 8 six-bit mins, per 32 elements), qs[128] (4 bits) —
/// x = d·sc·q − dmin·m.</item>
/// <item>Q5_K (176): d, dmin, scales[12] as Q4_K, qh[32] (fifth bit), qs[128] (low 4 bits) — x = d·sc·q − dmin·m.</item>
/// <item>Q6_K (210): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8, per 16 elements), d —
/// x = d·sc·(q − 32).</item>
/// </list>
/// Within a super-block the low bits are interleaved: a group of 32 bytes of 2-bit quants holds elements l, l+32,
/// l+64, l+96 of a 128-element half in bit pairs 0, 2, 4, 6 of byte l; a group of 32 bytes of 4-bit quants holds
/// elements l and l+32 of a 64-element quarter in its low and high nibbles. <see cref="Unsigned"/> spells this out once
/// for every type; the dequantizers and the kernels both use it.
/// </summary>
internal static class KQuants
{
    public const int Size = 256;

    /// <summary>
    /// The stored unsigned quant of element <paramref name="i"/> of a super-block, before its type's offset:
    /// Q2_K q, Q3_K q − 4 + 4 (0..7), Q4_K q, Q5_K q, Q6_K q (0..63, x uses q − 32).
    /// </summary>
    public static int Unsigned(DType type, ReadOnlySpan<byte> b, int i)
    {
        int half = i / 128, quarterInHalf = i % 128 / 32, l = i % 32;
        switch (type)
        {
            case DType.Q2_K:
                return b[16 + half * 32 + l] >> (2 * quarterInHalf) & 3;
            case DType.Q3_K:
            {
                int low = b[32 + half * 32 + l] >> (2 * quarterInHalf) & 3;
                int high = b[l] >> (i / 32) & 1;
                return low | high << 2;
            }
            case DType.Q4_K:
                return b[16 + i / 64 * 32 + l] >> (4 * (i % 64 / 32)) & 0xF;
            case DType.Q5_K:
                return (b[48 + i / 64 * 32 + l] >> (4 * (i % 64 / 32)) & 0xF) | (b[16 + l] >> (i / 32) & 1) << 4;
            case DType.Q6_K:
            {
                int low = b[half * 64 + i % 64] >> (4 * (i % 128 / 64)) & 0xF;
                int high = b[128 + half * 32 + l] >> (2 * quarterInHalf) & 3;
                return low | high << 4;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>
    /// Sub-block scales and mins as integers, per 16 elements (types with 32-element sub-blocks repeat each value):
    /// x = dA·scale·u − dB·offset, with u from <see cref="Unsigned"/>, (dA, dB) from <see cref="SuperScales"/>, and the
    /// offset folding in each type's zero point (Q3_K: 4·scale, Q6_K: 32·scale).
    /// </summary>
    public static void SubScales(DType type, ReadOnlySpan<byte> b, Span<short> scale, Span<short> offset)
    {
        switch (type)
        {
            case DType.Q2_K:
                for (int j = 0; j < 16; j++)
                {
                    scale[j] = (short)(b[j] & 0xF);
                    offset[j] = (short)(b[j] >> 4);
                }
                break;
            case DType.Q3_K:
                for (int j = 0; j < 16; j++)
                {
                    int low = j < 8 ? b[96 + j] & 0xF : b[96 + j - 8] >> 4;
                    int high = b[96 + 8 + j % 4] >> (2 * (j / 4)) & 3;
                    scale[j] = (short)((low | high << 4) - 32);
                    offset[j] = (short)(4 * scale[j]);
                }
                break;
            case DType.Q4_K or DType.Q5_K:
                for (int j = 0; j < 8; j++)
                {
                    var (sc, m) = ScaleMin(b.Slice(4, 12), j);
                    scale[2 * j] = scale[2 * j + 1] = (short)sc;
                    offset[2 * j] = offset[2 * j + 1] = (short)m;
                }
                break;
            case DType.Q6_K:
                for (int j = 0; j < 16; j++)
                {
                    scale[j] = (sbyte)b[192 + j];
                    offset[j] = (short)(32 * scale[j]);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>
    /// Scale and min of 32-element sub-block j (0..7) of Q4_K/Q5_K: bytes 0–3 hold scales 0–3 in their low six bits,
    /// bytes 4–7 mins 0–3; sub-blocks 4–7 take their low four bits from bytes 8–11 (scale low nibble, min high nibble)
    /// and their top two bits from the spare top bits of bytes 0–3 (scales) and 4–7 (mins).
    /// </summary>
    public static (int Scale, int Min) ScaleMin(ReadOnlySpan<byte> s, int j) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4, (s[j + 4] >> 4) | (s[j] >> 6) << 4);

    /// <summary>The super-block multipliers (dA, dB) of <see cref="SubScales"/>: (d, dmin) or (d, d).</summary>
    public static (float A, float B) SuperScales(DType type, ReadOnlySpan<byte> b) => type switch
    {
        DType.Q2_K => (Blocks32.Half(b, 80), Blocks32.Half(b, 82)),
        DType.Q3_K => (Blocks32.Half(b, 108), Blocks32.Half(b, 108)),
        DType.Q4_K or DType.Q5_K => (Blocks32.Half(b, 0), Blocks32.Half(b, 2)),
        DType.Q6_K => (Blocks32.Half(b, 208), Blocks32.Half(b, 208)),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>
    /// Dequantizes one super-block in gguf-py's order of float operations (sub-block scale d·sc first, then ·q, then
    /// − dmin·m), so results match its output bit for bit.
    /// </summary>
    public static void Dequantize(DType type, ReadOnlySpan<byte> b, Span<float> y)
    {
        Span<short> scale = stackalloc short[16], offset = stackalloc short[16];
        SubScales(type, b, scale, offset);
        var (dA, dB) = SuperScales(type, b);
        for (int j = 0; j < 16; j++)
        {
            for (int i = 16 * j; i < 16 * j + 16; i++)
            {
                int u = Unsigned(type, b, i);
                y[i] = type switch
                {
                    // x = (d·sc)·(u − zero point): the zero point is subtracted in integers, as gguf-py does.
                    DType.Q3_K => dA * scale[j] * (u - 4),
                    DType.Q6_K => dA * scale[j] * (u - 32),
                    _ => dA * scale[j] * u - dB * offset[j],
                };
            }
        }
    }
}
