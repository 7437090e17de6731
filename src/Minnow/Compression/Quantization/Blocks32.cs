using System.Buffers.Binary;

namespace Minnow.Compression.Quantization;

/// <summary>
/// ggml's 32-element block formats, bit for bit as ggml and gguf-py write and read them (little-endian, packed,
/// blocks one after another along a row). d and m are IEEE half floats:
/// <list type="bullet">
/// <item>Q8_0 (34 bytes): d, qs[32] int8 — x = d·q.</item>
/// <item>Q4_0 (18 bytes): d, qs[16] — byte j holds element j in its low nibble and element j+16 in its high nibble; x = d·(q − 8).</item>
/// <item>Q4_1 (20 bytes): d, m, qs[16] as Q4_0 — x = d·q + m.</item>
/// <item>Q5_0 (22 bytes): d, qh (uint32: bit i is the fifth bit of element i), qs[16] low nibbles as Q4_0 — x = d·(q − 16).</item>
/// <item>Q5_1 (24 bytes): d, m, qh, qs[16] — x = d·q + m.</item>
/// </list>
/// The quantizers follow gguf-py's numpy code (which copies ggml-quants.c, including its rounding quirks), so they
/// reproduce its bytes exactly; the dequantizers round d·q (+ m) in the same order, so they match to the bit.
/// </summary>
internal static class Blocks32
{
    public const int Size = 32;

    public static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    private static void WriteHalf(Span<byte> b, int at, float value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(b[at..], BitConverter.HalfToUInt16Bits((Half)value));

    public static void Dequantize(Tensors.DType type, ReadOnlySpan<byte> block, Span<float> y)
    {
        switch (type)
        {
            case Tensors.DType.Q8_0:
            {
                float d = Half(block, 0);
                for (int i = 0; i < Size; i++)
                    y[i] = (sbyte)block[2 + i] * d;
                break;
            }
            case Tensors.DType.Q4_0:
            {
                float d = Half(block, 0);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = d * ((block[2 + j] & 0xF) - 8);
                    y[j + 16] = d * ((block[2 + j] >> 4) - 8);
                }
                break;
            }
            case Tensors.DType.Q4_1:
            {
                float d = Half(block, 0), m = Half(block, 2);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = d * (block[4 + j] & 0xF) + m;
                    y[j + 16] = d * (block[4 + j] >> 4) + m;
                }
                break;
            }
            case Tensors.DType.Q5_0:
            {
                float d = Half(block, 0);
                uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
                for (int i = 0; i < Size; i++)
                    y[i] = d * (Five(block, 6, qh, i) - 16);
                break;
            }
            case Tensors.DType.Q5_1:
            {
                float d = Half(block, 0), m = Half(block, 2);
                uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
                for (int i = 0; i < Size; i++)
                    y[i] = d * Five(block, 8, qh, i) + m;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>The 5-bit value of element i: low nibble from qs (at <paramref name="qs"/>), fifth bit from qh.</summary>
    private static int Five(ReadOnlySpan<byte> block, int qs, uint qh, int i) =>
        (i < 16 ? block[qs + i] & 0xF : block[qs + i - 16] >> 4) | (int)((qh >> i) & 1) << 4;

    public static void Quantize(Tensors.DType type, ReadOnlySpan<float> x, Span<byte> block)
    {
        switch (type)
        {
            case Tensors.DType.Q8_0:
            {
                float amax = 0;
                foreach (float v in x)
                    amax = Math.Max(amax, Math.Abs(v));
                float d = amax / 127;
                float id = d == 0 ? 0 : 1 / d;
                WriteHalf(block, 0, d);
                for (int i = 0; i < Size; i++)
                    block[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero);
                break;
            }
            case Tensors.DType.Q4_0 or Tensors.DType.Q5_0:
            {
                // The signed value of largest magnitude maps to −8 (−16), so the grid is not symmetric around zero.
                float max = 0, amax = 0;
                foreach (float v in x)
                    if (Math.Abs(v) > amax)
                    {
                        amax = Math.Abs(v);
                        max = v;
                    }
                bool five = type == Tensors.DType.Q5_0;
                float d = max / (five ? -16 : -8);
                float id = d == 0 ? 0 : 1 / d;
                WriteHalf(block, 0, d);
                Span<int> q = stackalloc int[Size];
                for (int i = 0; i < Size; i++)
                    q[i] = Math.Min(five ? 31 : 15, TruncatedCentered(x[i], id, five ? 16.5 : 8.5));
                Pack(q, block[2..], five);
                break;
            }
            case Tensors.DType.Q4_1 or Tensors.DType.Q5_1:
            {
                float min = float.MaxValue, max = float.MinValue;
                foreach (float v in x)
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                bool five = type == Tensors.DType.Q5_1;
                int top = five ? 31 : 15;
                float d = (max - min) / top;
                float id = d == 0 ? 0 : 1 / d;
                WriteHalf(block, 0, d);
                WriteHalf(block, 2, min);
                Span<int> q = stackalloc int[Size];
                for (int i = 0; i < Size; i++)
                    q[i] = Math.Clamp((int)((x[i] - min) * id + 0.5f), 0, top);
                Pack(q, block[4..], five);
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>
    /// trunc(x·id + offset) as gguf-py computes it: the product and sum in float64 (standing in for ggml's fused
    /// multiply-add), rounded once to float32, then truncated. Rounding to float32 before truncating matters: a sum
    /// just below an integer can round up to it.
    /// </summary>
    private static int TruncatedCentered(float x, float id, double offset) => Math.Max(0, (int)(float)((double)x * id + offset));

    /// <summary>Writes [qh (five-bit types only), qs]: qs byte j = low nibble of q[j] | low nibble of q[j+16] &lt;&lt; 4.</summary>
    private static void Pack(ReadOnlySpan<int> q, Span<byte> dst, bool five)
    {
        if (five)
        {
            uint qh = 0;
            for (int i = 0; i < Size; i++)
                qh |= (uint)(q[i] >> 4 & 1) << i;
            BinaryPrimitives.WriteUInt32LittleEndian(dst, qh);
            dst = dst[4..];
        }
        for (int j = 0; j < 16; j++)
            dst[j] = (byte)((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
    }
}
