using Minnow.Formats.HuggingFace;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tests.Formats;
using Minnow.Training;
using Xunit.Abstractions;

namespace Minnow.Tests.Training;

/// <summary>
/// The trainable models of every family with tiny HF weights: their forward pass against the float64 reference
/// logits and against the inference model on the same memory, their gradients against finite differences of the
/// whole model, and the export/reload round trip.
/// </summary>
public class TrainableModelTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Families() =>
        new[] { "llama", "llama3", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt2" }.Select(f => new object[] { f });

    internal static TrainableModel Load(string family, int threads)
    {
        using var loaded = ModelLoader.Load(HfFamilyTests.Folder(family), new ModelLoadOptions { Threads = 1 });
        return TrainableModel.CopyOf(loaded.Model, threads);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LogitsMatchReferenceAndInferenceModel(string family)
    {
        var expected = HfFamilyTests.Load(family);
        using var model = Load(family, threads: 2);
        using var inference = model.CreateInferenceModel(threads: 2);
        int vocab = model.Config.VocabSize;
        int[] ids = expected.InputIds.SelectMany(r => r).ToArray();
        int seq = expected.InputIds[0].Length;
        var logits = new float[ids.Length * vocab];
        model.Logits(ids, seq, logits);
        double worstReference = 0, worstInference = 0;
        for (int row = 0; row < expected.InputIds.Length; row++)
        {
            var viaInference = new float[seq * vocab];
            inference.Forward(inference.CreateState(), expected.InputIds[row], viaInference, allPositions: true);
            for (int t = 0; t < seq; t++)
                for (int v = 0; v < vocab; v++)
                {
                    float z = logits[(row * seq + t) * vocab + v];
                    worstReference = Math.Max(worstReference, Math.Abs(z - expected.Logits[row][t][v]));
                    worstInference = Math.Max(worstInference, Math.Abs(z - viaInference[t * vocab + v]));
                }
        }
        output.WriteLine($"{family}: max |Δlogit| vs float64 reference {worstReference:E2}, vs inference model {worstInference:E2}");
        Assert.True(worstReference < 1e-4, $"{family}: training forward differs from the reference by {worstReference:E2}");
        Assert.True(worstInference < 1e-5, $"{family}: training and inference forward differ by {worstInference:E2}");
    }

    /// <summary>
    /// For each parameter tensor, the loss's derivative along a direction mixing the analytic gradient and a random
    /// vector, by central differences of the fp32 model, against the analytic gradient's projection. fp32 rounding of
    /// the loss (~1e-6) limits this to about 1e-3 relative, enough to catch any wiring error (a missed or doubled
    /// contribution is off by O(1)); the rules themselves are checked to 1e-4 in float64 by GradientCheckTests.
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void GradientsMatchFiniteDifferences(string family)
    {
        using var model = Load(family, threads: 2);
        var batch = RandomBatch(model.Config.VocabSize, sequences: 2, length: 12, seed: 3);
        model.Parameters.ZeroGradients();
        model.ForwardBackward(batch);
        var rng = new Rng(11);
        double worst = 0;
        foreach (var p in model.Parameters.Parameters)
        {
            var g = p.Gradient.AsFloats().ToArray();
            double gNorm = Math.Sqrt(g.Sum(v => (double)v * v));
            var z = Enumerable.Range(0, g.Length).Select(_ => (double)rng.NextGaussian()).ToArray();
            double zNorm = Math.Sqrt(z.Sum(v => v * v));
            var u = g.Select((v, i) => v / gNorm + z[i] / zNorm).ToArray();
            double analytic = g.Select((v, i) => v * u[i]).Sum();
            // A step that moves the loss by ~1e-3 (well above fp32 noise, small enough for third-order terms).
            double epsilon = 1e-3 / gNorm;
            var saved = p.Value.AsFloats().ToArray();
            double Shifted(double s)
            {
                var values = p.Value.AsFloats();
                for (int i = 0; i < values.Length; i++) values[i] = (float)(saved[i] + s * u[i]);
                return model.Loss(batch);
            }
            double numeric = (Shifted(epsilon) - Shifted(-epsilon)) / (2 * epsilon);
            saved.CopyTo(p.Value.AsFloats());
            double error = Math.Abs(numeric - analytic) / Math.Abs(analytic);
            worst = Math.Max(worst, error);
            Assert.True(error < 2e-2, $"{family} {p.Name}: directional derivative {numeric:E4} vs analytic {analytic:E4}");
        }
        output.WriteLine($"{family}: worst relative error of directional derivatives {worst:E2}");
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("gemma2")]
    [InlineData("gpt2")]
    public void ExportedWeightsReloadWithTheSameLogits(string family)
    {
        using var model = Load(family, threads: 1);
        // Change the weights a little so the test sees the trained values, not the originals.
        var batch = RandomBatch(model.Config.VocabSize, 2, 8, seed: 1);
        model.Parameters.ZeroGradients();
        model.ForwardBackward(batch);
        new AdamW(model.Parameters, model.Pool).Step(1e-2f);
        string folder = Path.Combine(Path.GetTempPath(), $"minnow-train-export-{family}-{Environment.ProcessId}");
        try
        {
            switch (model)
            {
                case TrainableLlama llama: HfModelWriter.Write(folder, llama.Config, llama.Weights); break;
                case TrainableGpt2 gpt2: HfModelWriter.Write(folder, gpt2.Config, gpt2.Weights); break;
            }
            using var reloaded = ModelLoader.Load(folder, new ModelLoadOptions { Threads = 1 });
            int vocab = model.Config.VocabSize;
            var expected = new float[8 * vocab];
            model.Logits(batch.Inputs[..8], 8, expected);
            var actual = new float[8 * vocab];
            reloaded.Model.Forward(reloaded.Model.CreateState(), batch.Inputs[..8], actual, allPositions: true);
            double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst < 1e-5, $"{family}: reloaded logits differ by {worst:E2}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    internal static TokenBatch RandomBatch(int vocab, int sequences, int length, ulong seed)
    {
        var rng = new Rng(seed);
        var tokens = Enumerable.Range(0, sequences * (length + 1)).Select(_ => (int)(rng.NextUInt32() % vocab)).ToArray();
        var inputs = new int[sequences * length];
        var targets = new int[sequences * length];
        for (int s = 0; s < sequences; s++)
        {
            Array.Copy(tokens, s * (length + 1), inputs, s * length, length);
            Array.Copy(tokens, s * (length + 1) + 1, targets, s * length, length);
        }
        return new TokenBatch(inputs, targets, length);
    }
}
