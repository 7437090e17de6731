using Minnow.Tensors;

namespace Minnow.Compression.Quantization;

/// <summary>
/// Q4_K and Q6_K quantizers following ggml-quants.c's reference (imatrix-free) algorithms: Q4_K fits a scale and a
/// min per 32 elements by weighted least squares over a sweep of trial scales (make_qkx2_quants), Q6_K a signed scale
/// per 16 elements by a sweep that maximises the weighted correlation (make_qx_quants); both then quantize the sub-block
/// scales against the super-block's largest and re-round every element with the scales actually stored.
/// Layouts are documented on <see cref="KQuants"/>.
/// </summary>
internal static class KQuantizer
{
    /// <summary>Round to nearest, ties to even, for |x| &lt; 2²²: ggml's nearest_int (the float-magic-number trick).</summary>
    private static int NearestInt(float x) => (BitConverter.SingleToInt32Bits(x + 12582912f) & 0x7FFFFF) - 0x400000;

    private static void WriteHalf(Span<byte> b, int at, float value) =>
        BitConverter.TryWriteBytes(b[at..], BitConverter.HalfToUInt16Bits((Half)value));

    private static float RoundTripHalf(float value) => (float)(Half)value;

    public static void QuantizeQ4K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<float> scales = stackalloc float[8], mins = stackalloc float[8], weights = stackalloc float[32];
        Span<byte> levels = stackalloc byte[KQuants.Size];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var sub = x.Slice(32 * j, 32);
            // Weight each element by the sub-block's RMS plus its own magnitude: large values matter more.
            float sumX2 = 0;
            foreach (float v in sub)
                sumX2 += v * v;
            float rms = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++)
                weights[l] = rms + Math.Abs(sub[l]);
            scales[j] = FitScaleAndMin(sub, weights, 15, levels.Slice(32 * j, 32), out mins[j]);
            maxScale = Math.Max(maxScale, scales[j]);
            maxMin = Math.Max(maxMin, mins[j]);
        }

        // Sub-block scales and mins become six-bit multiples of the super-block's d and dmin.
        float inverseScale = maxScale > 0 ? 63f / maxScale : 0, inverseMin = maxMin > 0 ? 63f / maxMin : 0;
        var packed = block.Slice(4, 12);
        packed.Clear();
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, NearestInt(inverseScale * scales[j])), lm = Math.Min(63, NearestInt(inverseMin * mins[j]));
            if (j < 4)
            {
                packed[j] = (byte)ls;
                packed[j + 4] = (byte)lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | (lm & 0xF) << 4);
                packed[j - 4] |= (byte)(ls >> 4 << 6);
                packed[j] |= (byte)(lm >> 4 << 6);
            }
        }
        WriteHalf(block, 0, maxScale / 63);
        WriteHalf(block, 2, maxMin / 63);

        float d = RoundTripHalf(maxScale / 63), dMin = RoundTripHalf(maxMin / 63);
        for (int j = 0; j < 8; j++)
        {
            var (sc, m) = KQuants.ScaleMin(packed, j);
            float ds = d * sc;
            if (ds == 0)
                continue;
            float dm = dMin * m;
            for (int l = 0; l < 32; l++)
                levels[32 * j + l] = (byte)Math.Clamp(NearestInt((x[32 * j + l] + dm) / ds), 0, 15);
        }
        var qs = block.Slice(16, 128);
        for (int q = 0; q < 4; q++)
            for (int l = 0; l < 32; l++)
                qs[32 * q + l] = (byte)(levels[64 * q + l] | levels[64 * q + 32 + l] << 4);
    }

    /// <summary>
    /// make_qkx2_quants with Q4_K's settings: x ≈ scale·L − min with L in [0, nmax], min ≥ 0. Starts from the plain
    /// min/max grid, then tries 21 slightly different grid spacings and keeps the weighted least-squares fit with the
    /// smallest weighted squared error.
    /// </summary>
    private static float FitScaleAndMin(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int nmax, Span<byte> levels, out float theMin)
    {
        const float rmin = -1f, rdelta = 0.1f;
        const int steps = 20;
        int n = x.Length;
        float min = x[0], max = x[0], sumW = w[0], sumX = w[0] * x[0];
        for (int i = 1; i < n; i++)
        {
            min = Math.Min(min, x[i]);
            max = Math.Max(max, x[i]);
            sumW += w[i];
            sumX += w[i] * x[i];
        }
        if (min > 0)
            min = 0;
        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            levels[i] = (byte)Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * levels[i] + min - x[i];
            bestError += w[i] * diff * diff;
        }
        Span<byte> trial = stackalloc byte[n];
        for (int step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                trial[i] = (byte)l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0)
                continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * trial[i] + thisMin - x[i];
                error += w[i] * diff * diff;
            }
            if (error < bestError)
            {
                trial.CopyTo(levels);
                bestError = error;
                scale = thisScale;
                min = thisMin;
            }
        }
        theMin = -min;
        return scale;
    }

    public static void QuantizeQ6K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<float> scales = stackalloc float[16];
        Span<sbyte> levels = stackalloc sbyte[KQuants.Size];
        float maxScale = 0, maxAbsScale = 0;
        for (int j = 0; j < 16; j++)
        {
            scales[j] = FitSignedScale(x.Slice(16 * j, 16), 32);
            if (Math.Abs(scales[j]) > maxAbsScale)
            {
                maxAbsScale = Math.Abs(scales[j]);
                maxScale = scales[j];
            }
        }
        block[..210].Clear();
        if (maxAbsScale < 1e-15f)
            return;

        // The sub-block scale of largest magnitude maps to −128, the others to int8 multiples of the same d.
        float iscale = -128f / maxScale;
        WriteHalf(block, 208, 1 / iscale);
        for (int j = 0; j < 16; j++)
            block[192 + j] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[j]));

        float d = RoundTripHalf(1 / iscale);
        for (int j = 0; j < 16; j++)
        {
            float ds = d * (sbyte)block[192 + j];
            for (int l = 0; l < 16; l++)
                levels[16 * j + l] = (sbyte)(ds == 0 ? 0 : Math.Clamp(NearestInt(x[16 * j + l] / ds), -32, 31));
        }
        for (int half = 0; half < 2; half++)
        {
            var ql = block.Slice(64 * half, 64);
            var qh = block.Slice(128 + 32 * half, 32);
            for (int l = 0; l < 32; l++)
            {
                int i = 128 * half + l;
                int q1 = levels[i] + 32, q2 = levels[i + 32] + 32, q3 = levels[i + 64] + 32, q4 = levels[i + 96] + 32;
                ql[l] = (byte)((q1 & 0xF) | (q3 & 0xF) << 4);
                ql[l + 32] = (byte)((q2 & 0xF) | (q4 & 0xF) << 4);
                qh[l] = (byte)(q1 >> 4 | q2 >> 4 << 2 | q3 >> 4 << 4 | q4 >> 4 << 6);
            }
        }
    }

    /// <summary>
    /// make_qx_quants with Q6_K's settings (weights x², levels in [−nmax, nmax−1]): the signed value of largest
    /// magnitude maps to −nmax, then 18 nearby grid spacings are tried and the one whose least-squares scale explains
    /// the most weighted energy (sumlx²/suml2) wins; returns that scale.
    /// </summary>
    private static float FitSignedScale(ReadOnlySpan<float> x, int nmax)
    {
        float max = 0, amax = 0;
        foreach (float v in x)
            if (Math.Abs(v) > amax)
            {
                amax = Math.Abs(v);
                max = v;
            }
        if (amax < 1e-15f)
            return 0;
        float scale = Fit(x, nmax, -nmax / max, out float lx, out _);
        float best = scale * lx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0)
                continue;
            float trial = Fit(x, nmax, -(nmax + 0.1f * step) / max, out float slx, out float sl2);
            if (sl2 > 0 && slx * slx > best * sl2)
            {
                scale = trial;
                best = scale * slx;
            }
        }
        return scale;
    }

    /// <summary>The least-squares scale (weights x²) of the levels round(iscale·x) clamped to [−nmax, nmax−1].</summary>
    private static float Fit(ReadOnlySpan<float> x, int nmax, float iscale, out float sumLX, out float sumL2)
    {
        sumLX = 0;
        sumL2 = 0;
        foreach (float v in x)
        {
            int l = Math.Clamp(NearestInt(iscale * v), -nmax, nmax - 1);
            float w = v * v;
            sumLX += w * v * l;
            sumL2 += w * l * l;
        }
        return sumL2 != 0 ? sumLX / sumL2 : 0;
    }
}
