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
