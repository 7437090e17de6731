using Minnow.Generation;
using Minnow.Models;
using Minnow.Tensors.Kernels;
using Minnow.Training;
using Xunit.Abstractions;

namespace Minnow.Tests.Training;

/// <summary>
/// Every backward rule of the tape against central finite differences of a float64 reference of the same layer,
/// written here independently of the library (plain loops). The loss is L = Σ R∘output for a fixed random R; the
/// float64 differences (h = 1e-6) are exact to ~1e-9, so the error measured is the fp32 backward's own rounding.
/// The fp32 forward is checked against the same reference first, so both sides differentiate the same function.
/// Gradients must agree to 1e-4 of the largest gradient entry (fp32 sums of a few dozen terms err by ~1e-6).
/// </summary>
public class GradientCheckTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>
    /// A layer under test: its parameters and input shapes, the tape op, and its float64 reference. For a loss
    /// (<paramref name="IsLoss"/>), the op has already produced its gradients, so R = 1 and nothing is seeded.
    /// </summary>
    private sealed record Case(
        string Name,
        (string Name, int[] Shape, double Mean)[] Parameters,
        (int Rows, int Cols)[] Inputs,
        Func<Tape, Act[], ParameterStore, Act> Op,
        Func<double[][], Dictionary<string, double[]>, double[]> Reference,
        bool IsLoss = false);

    private void Check(Case c, ulong seed = 1)
    {
        var rng = new Rng(seed);
        var store = new ParameterStore(c.Parameters.Select(p => (p.Name, p.Shape)));
        foreach (var (name, _, mean) in c.Parameters)
        {
            var values = store[name].Value.AsFloats();
            for (int i = 0; i < values.Length; i++) values[i] = (float)(mean + 0.5 * rng.NextGaussian());
        }
        using var pool = new WorkerPool(2);
        var tape = new Tape(pool);
        tape.Bind(store);
        var inputs = c.Inputs.Select(s => tape.Allocate(s.Rows, s.Cols, requiresGrad: true)).ToArray();
        foreach (var a in inputs)
        {
            var v = tape.Value(a);
            for (int i = 0; i < v.Length; i++) v[i] = rng.NextGaussian();
        }
        double[][] x = inputs.Select(a => tape.Value(a).ToArray().Select(f => (double)f).ToArray()).ToArray();
        var theta = store.Parameters.ToDictionary(p => p.Name, p => p.Value.AsFloats().ToArray().Select(f => (double)f).ToArray());

        var result = c.Op(tape, inputs, store);
        var actual = tape.Value(result).ToArray();
        var expected = c.Reference(x, theta);
        double outScale = expected.Max(Math.Abs);
        double forwardError = actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
        Assert.True(forwardError <= 1e-5 * Math.Max(outScale, 1), $"{c.Name}: forward differs from the float64 reference by {forwardError:E2}");

        var r = c.IsLoss ? [1f] : Enumerable.Range(0, actual.Length).Select(_ => rng.NextGaussian()).ToArray();
        if (!c.IsLoss)
            tape.SeedGradient(result, r);
        tape.Backward();

        double Loss() => c.Reference(x, theta).Zip(r, (o, w) => o * w).Sum();
        var errors = new List<string>();
        double worst = 0;
        void Compare(string what, double[] values, ReadOnlySpan<float> analytic)
        {
            var numeric = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                double saved = values[i], h = 1e-6 * Math.Max(1, Math.Abs(saved));
                values[i] = saved + h;
                double up = Loss();
                values[i] = saved - h;
                double down = Loss();
                values[i] = saved;
                numeric[i] = (up - down) / (2 * h);
            }
            double scale = Math.Max(numeric.Max(Math.Abs), 1e-3), error = 0;
            for (int i = 0; i < values.Length; i++)
                error = Math.Max(error, Math.Abs((analytic.IsEmpty ? 0 : analytic[i]) - numeric[i]));
            worst = Math.Max(worst, error / scale);
            if (error > Tolerance * scale)
                errors.Add($"{what}: max error {error:E2} against largest gradient {scale:E2}");
        }
        for (int i = 0; i < inputs.Length; i++)
            Compare($"input {i}", x[i], tape.Gradient(inputs[i]));
        foreach (var p in store.Parameters)
            Compare(p.Name, theta[p.Name], p.Gradient.AsFloats());
        output.WriteLine($"{c.Name}: forward error {forwardError:E2}, worst gradient error {worst:E2} of the largest entry");
        Assert.True(errors.Count == 0, $"{c.Name}: " + string.Join("; ", errors));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear(bool bias) => Check(new Case(
        "linear",
        bias ? [("w", [5, 7], 0), ("b", [5], 0)] : [("w", [5, 7], 0)],
        [(3, 7)],
        (tape, x, p) => tape.Linear(x[0], p["w"].Value, bias ? p["b"].Value : null),
        (x, p) =>
        {
            var y = new double[3 * 5];
            for (int t = 0; t < 3; t++)
                for (int o = 0; o < 5; o++)
                {
                    double s = bias ? p["b"][o] : 0;
                    for (int i = 0; i < 7; i++) s += x[0][t * 7 + i] * p["w"][o * 7 + i];
                    y[t * 5 + o] = s;
                }
            return y;
        }));

    [Theory]
    [InlineData(0f, 6)]
    [InlineData(1f, 6)]     // Gemma's (1 + w)
    [InlineData(0f, 3)]     // per-head norm (Qwen3's q/k norms): the weight covers a third of a row
    public void RmsNorm(float offset, int width) => Check(new Case(
        "rmsnorm",
        [("w", [width], offset == 0 ? 1 : 0)],
        [(4, 6)],
        (tape, x, p) => tape.RmsNorm(x[0], p["w"].Value, 1e-5f, offset),
        (x, p) =>
        {
            var y = new double[24];
            for (int r = 0; r < 24 / width; r++)
            {
                double ss = 0;
                for (int i = 0; i < width; i++) ss += x[0][r * width + i] * x[0][r * width + i];
                double inv = 1 / Math.Sqrt(ss / width + 1e-5);
                for (int i = 0; i < width; i++) y[r * width + i] = x[0][r * width + i] * inv * (p["w"][i] + offset);
            }
            return y;
        }));

    [Fact]
    public void LayerNorm() => Check(new Case(
        "layernorm",
        [("w", [6], 1), ("b", [6], 0)],
        [(4, 6)],
        (tape, x, p) => tape.LayerNorm(x[0], p["w"].Value, p["b"].Value, 1e-5f),
        (x, p) =>
        {
            var y = new double[24];
            for (int r = 0; r < 4; r++)
            {
                var row = x[0].AsSpan(r * 6, 6);
                double mean = 0, variance = 0;
                foreach (double v in row) mean += v / 6;
                foreach (double v in row) variance += (v - mean) * (v - mean) / 6;
                for (int i = 0; i < 6; i++) y[r * 6 + i] = (row[i] - mean) / Math.Sqrt(variance + 1e-5) * p["w"][i] + p["b"][i];
            }
            return y;
        }));

    [Theory]
    [InlineData(RopeStyle.Interleaved)]
    [InlineData(RopeStyle.Half)]
    public void Rope(RopeStyle style)
    {
        const int heads = 2, hs = 4, seq = 3;
        var table = new RopeTable(hs, 8, 10000.0);
        Check(new Case(
            "rope",
            [],
            [(2 * seq, heads * hs)],
            (tape, x, p) =>
            {
                tape.Rope(x[0], hs, table, style, seq);
                return x[0];
            },
            (x, p) =>
            {
                var y = (double[])x[0].Clone();
                for (int t = 0; t < 2 * seq; t++)
                    for (int h = 0; h < heads; h++)
                        for (int i = 0; i < hs / 2; i++)
                        {
                            int a = t * heads * hs + h * hs + (style == RopeStyle.Interleaved ? 2 * i : i);
                            int b = a + (style == RopeStyle.Interleaved ? 1 : hs / 2);
                            double cos = table.Cos(t % seq)[i], sin = table.Sin(t % seq)[i];
                            (y[a], y[b]) = (x[0][a] * cos - x[0][b] * sin, x[0][a] * sin + x[0][b] * cos);
                        }
                return y;
            }));
    }

    /// <summary>Causal attention of two sequences of 5 tokens, with grouped-query heads, soft-capping and a sliding window.</summary>
    [Theory]
    [InlineData(4, 2, 0f, 0)]
    [InlineData(2, 2, 0f, 0)]
    [InlineData(4, 1, 0.8f, 0)]
    [InlineData(2, 1, 0f, 3)]
    public void Attention(int heads, int kvHeads, float softCap, int window)
    {
        const int hd = 4, seq = 5, n = 10;
        const float scale = 0.5f;
        Check(new Case(
            "attention",
            [],
            [(n, heads * hd), (n, kvHeads * hd), (n, kvHeads * hd)],
            (tape, x, p) => tape.Attention(x[0], x[1], x[2], seq, heads, kvHeads, scale, softCap, window),
            (x, p) => ReferenceAttention(x[0], 0, heads * hd, x[1], 0, x[2], 0, kvHeads * hd, n, seq, heads, kvHeads, hd, scale, softCap, window)));
    }

    [Fact]
    public void FusedQkvAttention()
    {
        const int heads = 2, hd = 4, seq = 4, n = 8, d = heads * hd;
        Check(new Case(
            "attention (fused qkv)",
            [],
            [(n, 3 * d)],
            (tape, x, p) => tape.Attention(x[0], seq, heads, 0.5f),
            (x, p) => ReferenceAttention(x[0], 0, 3 * d, x[0], d, x[0], 2 * d, 3 * d, n, seq, heads, heads, hd, 0.5f, 0, 0)));
    }

    private static double[] ReferenceAttention(double[] q, int qOffset, int qStride, double[] k, int kOffset, double[] v, int vOffset, int kvStride,
        int n, int seq, int heads, int kvHeads, int hd, double scale, double softCap, int window)
    {
        var y = new double[n * heads * hd];
        for (int t = 0; t < n; t++)
            for (int h = 0; h < heads; h++)
            {
                int g = h / (heads / kvHeads), b = t / seq * seq, first = window > 0 ? Math.Max(b, t + 1 - window) : b;
                var s = new double[t + 1];
                double max = double.NegativeInfinity, sum = 0;
                for (int u = first; u <= t; u++)
                {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[t * qStride + qOffset + h * hd + i] * k[u * kvStride + kOffset + g * hd + i];
                    dot *= scale;
                    if (softCap > 0) dot = softCap * Math.Tanh(dot / softCap);
                    s[u] = dot;
                    max = Math.Max(max, dot);
                }
                for (int u = first; u <= t; u++) sum += s[u] = Math.Exp(s[u] - max);
                for (int u = first; u <= t; u++)
                    for (int i = 0; i < hd; i++)
                        y[t * heads * hd + h * hd + i] += s[u] / sum * v[u * kvStride + vOffset + g * hd + i];
            }
        return y;
    }

    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GatedActivation(bool gelu) => Check(new Case(
        gelu ? "geglu" : "swiglu",
        [],
        [(1, 1030), (1, 1030)],     // more than one 1024-element block
        (tape, x, p) => gelu ? tape.GeGlu(x[0], x[1]) : tape.SwiGlu(x[0], x[1]),
        (x, p) => x[0].Select((g, i) => (gelu ? Gelu(g) : g / (1 + Math.Exp(-g))) * x[1][i]).ToArray()));

    [Fact]
    public void GeluTanh() => Check(new Case(
        "gelu",
        [],
        [(3, 9)],
        (tape, x, p) => tape.GeluTanh(x[0]),
        (x, p) => x[0].Select(Gelu).ToArray()));

    [Fact]
    public void Residual() => Check(new Case(
        "residual",
        [],
        [(3, 5), (3, 5)],
        (tape, x, p) => tape.Residual(x[0], x[1]),
        (x, p) => x[0].Zip(x[1], (a, b) => a + b).ToArray()));

    [Fact]
    public void Embedding()
    {
        int[] tokens = [3, 1, 3, 0, 2, 1];
        Check(new Case(
            "embedding",
            [("table", [4, 5], 0), ("positions", [4, 5], 0)],
            [],
            (tape, x, p) => tape.Embedding(tokens, p["table"].Value, 1.5f, p["positions"].Value, sequenceLength: 3),
            (x, p) =>
            {
                var y = new double[tokens.Length * 5];
                for (int t = 0; t < tokens.Length; t++)
                    for (int i = 0; i < 5; i++)
                        y[t * 5 + i] = 1.5 * p["table"][tokens[t] * 5 + i] + p["positions"][t % 3 * 5 + i];
                return y;
            }));
    }

    /// <summary>
    /// The fused classifier + softmax cross-entropy, its loss a scalar: checked through a one-element "output"
    /// (loss·lossScale) so the same harness applies. Blocks of 2 rows make 3 row blocks of logits.
    /// </summary>
    [Theory]
    [InlineData(11, 0f)]
    [InlineData(11, 2f)]
    public void CrossEntropy(int vocab, float softCap)
    {
        int[] targets = [3, 0, 10, 7, 7];
        Check(new Case(
            "cross-entropy",
            [("w", [vocab, 6], 0)],
            [(5, 6)],
            (tape, x, p) =>
            {
                tape.LogitBlockFloats = 2 * vocab;
                float loss = tape.CrossEntropy(x[0], p["w"].Value, targets, softCap, lossScale: 0.7f);
                return tape.Constant([loss * 0.7f], 1, 1);
            },
            (x, p) =>
            {
                double total = 0;
                for (int t = 0; t < 5; t++)
                {
                    var z = new double[vocab];
                    for (int v = 0; v < vocab; v++)
                    {
                        for (int i = 0; i < 6; i++) z[v] += x[0][t * 6 + i] * p["w"][v * 6 + i];
                        if (softCap > 0) z[v] = softCap * Math.Tanh(z[v] / softCap);
                    }
                    double max = z.Max();
                    total += Math.Log(z.Sum(v => Math.Exp(v - max))) + max - z[targets[t]];
                }
                return [0.7 * total / 5];
            },
            IsLoss: true));
    }
}
