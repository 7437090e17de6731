using Minnow.Tensors;

namespace Minnow.Models;

/// <summary>Precomputed rotary-embedding angles: cos and sin for every position and every pair of a head.</summary>
public sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;
    public int Pairs { get; }

    /// <summary>
    /// Angles for <paramref name="contextLength"/> positions; <paramref name="maxPositions"/> (the model's trained maximum,
    /// default the context length) decides LongRoPE's short/long factors and magnitude scale.
    /// </summary>
    public RopeTable(int headSize, int contextLength, double theta, RopeScaling? scaling = null, int? maxPositions = null)
    {
        Pairs = headSize / 2;
        var freqs = new double[Pairs];
        for (int i = 0; i < Pairs; i++)
            freqs[i] = 1.0 / Math.Pow(theta, 2.0 * i / headSize);
        double magnitude = 1.0;
        switch (scaling)
        {
            case null:
                break;
            case Llama3RopeScaling llama3:
                ApplyLlama3Scaling(freqs, llama3);
                break;
            case LinearRopeScaling linear:
                for (int i = 0; i < Pairs; i++)
                    freqs[i] /= linear.Factor;
                break;
            case FrequencyFactorRopeScaling perFrequency:
                if (perFrequency.Factors.Length != freqs.Length)
                    throw new InvalidInputException($"RoPE has {perFrequency.Factors.Length} frequency factors but the head has {freqs.Length} pairs");
                for (int i = 0; i < Pairs; i++)
                    freqs[i] /= perFrequency.Factors[i];
                break;
            case LongRopeScaling longRope:
                magnitude = ApplyLongRope(freqs, longRope, contextLength, maxPositions ?? contextLength);
                break;
            default:
                throw new InvalidInputException($"unsupported RoPE scaling {scaling.GetType().Name}");
        }
        _cos = new float[contextLength * Pairs];
        _sin = new float[contextLength * Pairs];
        for (int p = 0; p < contextLength; p++)
            for (int i = 0; i < Pairs; i++)
            {
                // Angles in float64: float32 angles lose accuracy at large positions.
                double angle = p * freqs[i];
                _cos[p * Pairs + i] = (float)(Math.Cos(angle) * magnitude);
                _sin[p * Pairs + i] = (float)(Math.Sin(angle) * magnitude);
            }
    }

    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * Pairs, Pairs);
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * Pairs, Pairs);

    /// <summary>Llama 3's scaling as per-frequency divisors (unscaled / scaled frequency), the form GGUF stores.</summary>
    public static double[] Llama3Factors(int headSize, double theta, Llama3RopeScaling scaling)
    {
        var freqs = new double[headSize / 2];
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] = 1.0 / Math.Pow(theta, 2.0 * i / headSize);
        var scaled = (double[])freqs.Clone();
        ApplyLlama3Scaling(scaled, scaling);
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] /= scaled[i];
        return freqs;
    }

    /// <summary>Llama 3.1's scaling: long wavelengths slowed by the factor, short ones kept, a smooth blend between.</summary>
    private static void ApplyLlama3Scaling(double[] freqs, Llama3RopeScaling s)
    {
        double lowFreqWavelen = s.OriginalContextLength / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalContextLength / s.HighFreqFactor;
        for (int i = 0; i < freqs.Length; i++)
        {
            double wavelen = 2 * Math.PI / freqs[i];
            if (wavelen < highFreqWavelen)
                continue;
            if (wavelen > lowFreqWavelen)
            {
                freqs[i] /= s.Factor;
                continue;
            }
            double smooth = (s.OriginalContextLength / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            freqs[i] = (1 - smooth) * freqs[i] / s.Factor + smooth * freqs[i];
        }
    }

    /// <summary>LongRoPE: divide each frequency by its factor; returns the cos/sin magnitude scale.</summary>
    private static double ApplyLongRope(double[] freqs, LongRopeScaling s, int contextLength, int maxPositions)
    {
        var factors = contextLength > s.OriginalContextLength ? s.LongFactors : s.ShortFactors;
        if (factors.Length != freqs.Length)
            throw new InvalidInputException($"LongRoPE has {factors.Length} factors but the head has {freqs.Length} frequency pairs");
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] /= factors[i];
        double scale = (double)maxPositions / s.OriginalContextLength;
        return scale <= 1 ? 1.0 : Math.Sqrt(1 + Math.Log(scale) / Math.Log(s.OriginalContextLength));
    }
}

/// <summary>
/// Reorders the rows of query/key projections between the two RoPE pairings. Within each head of size h,
/// interleaved pairs rows (2i, 2i+1) and half pairs rows (i, i + h/2); permuting the weight rows turns one model
/// into the other exactly (llama.cpp's converter applies <see cref="HalfToInterleaved"/> to HF checkpoints).
/// </summary>
public static class RopeRows
{
    /// <summary>row[2i] = w[i], row[2i+1] = w[i + h/2] within each head (HF → GGUF/llama2.c order).</summary>
    public static Tensor HalfToInterleaved(Tensor w, int heads) => Permute(w, heads, toHalf: false);

    /// <summary>row[i] = w[2i], row[i + h/2] = w[2i+1] within each head (GGUF/llama2.c → HF order).</summary>
    public static Tensor InterleavedToHalf(Tensor w, int heads) => Permute(w, heads, toHalf: true);

    private static Tensor Permute(Tensor w, int heads, bool toHalf)
    {
        var source = Tensors.TensorConvert.ToF32(w);
        int rows = w.Rows, columns = w.Columns;
        if (rows % heads != 0 || rows / heads % 2 != 0)
            throw new InvalidInputException($"cannot permute '{w.Name}' ({rows} rows) for RoPE over {heads} heads");
        int h = rows / heads, half = h / 2;
        var result = Tensor.Zeros(w.Name, w.Shape);
        var from = source.AsFloats();
        var to = result.AsFloats();
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < half; i++)
            {
                int interleavedA = head * h + 2 * i, interleavedB = interleavedA + 1;
                int halfA = head * h + i, halfB = halfA + half;
                (int srcA, int srcB, int dstA, int dstB) = toHalf
                    ? (interleavedA, interleavedB, halfA, halfB)
                    : (halfA, halfB, interleavedA, interleavedB);
                from.Slice(srcA * columns, columns).CopyTo(to.Slice(dstA * columns, columns));
                from.Slice(srcB * columns, columns).CopyTo(to.Slice(dstB * columns, columns));
            }
        return result;
    }
}
