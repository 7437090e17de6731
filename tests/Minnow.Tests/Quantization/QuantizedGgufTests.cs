using Minnow.Tests.Models;
using Minnow.Compression.Quantization;
using Minnow.Evaluation;
using Minnow.Formats.Gguf;
using Minnow.Models;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;
using Minnow.Tests.Formats;
using Xunit.Abstractions;

namespace Minnow.Tests.Quantization;

/// <summary>
/// The shared tiny GGUF files with quantized weights, run in place through the quantized kernels, against float64
/// references computed from gguf-py's dequantized weights. The kernels also round activations to int8 (as ggml does),
/// so results may differ from the reference by that rounding: log-probabilities within 2e-2, and the greedy choice
/// equal wherever the reference's top-1/top-2 margin exceeds the logit error.
/// </summary>
public class QuantizedGgufTests(ITestOutputHelper output)
{
    private const double LogprobTolerance = 2e-2;

    private static double[] LogSoftmax(double[] logits)
    {
        double max = logits.Max(), sum = logits.Sum(v => Math.Exp(v - max));
        return logits.Select(v => v - max - Math.Log(sum)).ToArray();
    }

    /// <remarks>
    /// The int8 rounding of activations dominates the error for every weight type (about 5e-3 in logits here), so
    /// Q8_0 is held to 5e-3, four times inside the 2e-2 the others get.
    /// </remarks>
    [Theory]
    [InlineData("Q8_0", 5e-3)]
    [InlineData("Q4_0", LogprobTolerance)]
    [InlineData("Q4_1", LogprobTolerance)]
    [InlineData("Q5_0", LogprobTolerance)]
    [InlineData("Q5_1", LogprobTolerance)]
    public void QuantizedFilesMatchReference(string type, double tolerance)
    {
        var expected = GgufTests.Load(type);
        using var loaded = ModelLoader.Load(GgufTests.File(type), new ModelLoadOptions { Threads = 2 });
        var model = loaded.Model;
        int vocab = model.Config.VocabSize;
        double worstLogit = 0, worstLogprob = 0;
        int disagreements = 0;
        for (int row = 0; row < expected.InputIds.Length; row++)
        {
            int[] ids = expected.InputIds[row];
            worstLogit = Math.Max(worstLogit, GgufTests.MaxLogitError(model, expected, row));

            var score = Scorer.Score(model, ids);
            for (int i = 0; i + 1 < ids.Length; i++)
                worstLogprob = Math.Max(worstLogprob, Math.Abs(score.TokenLogprobs[i] - LogSoftmax(expected.Logits[row][i])[ids[i + 1]]));

            // Greedy decoding, fed the reference's own tokens (so one near-tie cannot derail the rest): where our pick
            // differs, the reference's pick must be within twice the logit error of ours, i.e. the reference's margin
            // was smaller than the error and the tie could go either way.
            var state = model.CreateState();
            var next = new float[vocab];
            model.Forward(state, ids, next);
            foreach (int reference in expected.Greedy[row])
            {
                int ours = Array.IndexOf(next, next.Max());
                if (ours != reference)
                {
                    disagreements++;
                    Assert.True(next[ours] - next[reference] <= 2 * LogprobTolerance,
                        $"{type} row {row}: picked {ours} over the reference's {reference} by {next[ours] - next[reference]}");
                }
                model.Forward(state, [reference], next);
            }
        }
        output.WriteLine($"{type}: max |Δlogit| {worstLogit:E2}, max |Δlogprob| {worstLogprob:E2}, greedy disagreements {disagreements}/32");
        Assert.True(worstLogprob < tolerance, $"{type}: max |Δlogprob| = {worstLogprob:E2}");
    }

    /// <summary>
    /// <see cref="ModelLoadOptions.RepackWeights"/> off runs the quantized matrices straight from the file (the row
    /// kernels) and gives the repacked copies' logits up to the order of the additions; switching it off on a loaded
    /// model drops the copies, and on again makes them anew.
    /// </summary>
    [Theory]
    [InlineData("Q4_0")]
    [InlineData("Q5_0")]
    [InlineData("Q8_0")]
    public void WithoutRepackedWeightsTheLogitsAreTheSame(string type)
    {
        using var repacked = ModelLoader.Load(GgufTests.File(type), new ModelLoadOptions { Threads = 2 });
        using var direct = ModelLoader.Load(GgufTests.File(type), new ModelLoadOptions { Threads = 2, RepackWeights = false });
        int[] ids = GgufTests.Load(type).InputIds[0];
        float[] Logits(ILanguageModel m)
        {
            var logits = new float[m.Config.VocabSize * ids.Length];
            m.Forward(m.CreateState(), ids, logits, allPositions: true);
            return logits;
        }
        var a = Logits(repacked.Model);
        var b = Logits(direct.Model);
        void Close(float[] x, float[] y, string what)
        {
            Assert.Equal(x.Length, y.Length);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= 1e-4 * (1 + Math.Abs(x[i])), $"{type} {what}, logit {i}: {x[i]} vs {y[i]}");
        }
        Close(a, b, "repacked vs direct");
        // Copies exist where this CPU's kernels use them (AVX-512 and AVX2; the portable path has none).
        bool copies = QuantizedSimd.Active is QuantizedPath.Avx512 or QuantizedPath.Avx2 or QuantizedPath.AvxVnni;
        var model = (DecoderModel)repacked.Model;
        Assert.Equal(0, ((DecoderModel)direct.Model).RepackedMatrices);
        Assert.Equal(copies, model.RepackedMatrices > 0);
        model.RepackWeights = false;
        Assert.Equal(0, model.RepackedMatrices);
        Close(b, Logits(model), "switched off");
        Assert.Equal(0, model.RepackedMatrices);
        model.RepackWeights = true;
        Close(a, Logits(model), "switched on again");
        Assert.Equal(copies, model.RepackedMatrices > 0);
    }

    /// <summary>
    /// tiny-hf/llama quantized to Q8_0 by our quantizer, tensor by tensor, gives gguf-py's bytes (rows are quantized
    /// independently, so llama.cpp's q/k row permutation only reorders them) and the Q8_0 file's logits.
    /// </summary>
    [Fact]
    public void OurQ8_0QuantizerReproducesTheSharedFile()
    {
        using var hf = ModelLoader.Load(TestData.Path("models/tiny-hf/llama"), new ModelLoadOptions { Threads = 2 });
        var weights = ((LlamaModel)hf.Model).Weights;
        Tensor Q(Tensor t) => t.Shape.Length == 2 ? Quantizer.Quantize(t, DType.Q8_0) : t;
        var quantized = new LlamaWeights
        {
            TokenEmbedding = Q(weights.TokenEmbedding),
            FinalNorm = weights.FinalNorm,
            Output = Q(weights.Output),
            Layers = weights.Layers.Select(l => new LlamaLayer
            {
                AttentionNorm = l.AttentionNorm, FfnNorm = l.FfnNorm,
                Wq = Q(l.Wq), Wk = Q(l.Wk), Wv = Q(l.Wv), Wo = Q(l.Wo), WGate = Q(l.WGate), WUp = Q(l.WUp), WDown = Q(l.WDown),
            }).ToArray(),
        };

        using (var file = GgufFile.Open(GgufTests.File("Q8_0")))
        {
            Assert.Equal(file.Tensor("blk.1.ffn_down.weight").AsBytes().ToArray(), quantized.Layers[1].WDown.AsBytes().ToArray());
            Assert.Equal(file.Tensor("output.weight").AsBytes().ToArray(), quantized.Output.AsBytes().ToArray());
            Assert.Equal(file.Tensor("token_embd.weight").AsBytes().ToArray(), quantized.TokenEmbedding.AsBytes().ToArray());
        }

        using var model = new LlamaModel(hf.Model.Config, quantized, threads: 2);
        var expected = GgufTests.Load("Q8_0");
        double worst = Enumerable.Range(0, expected.InputIds.Length).Max(row => GgufTests.MaxLogitError(model, expected, row));
        output.WriteLine($"tiny-hf/llama → our Q8_0: max |Δlogit| vs the shared Q8_0 file's reference {worst:E2}");
        Assert.True(worst < 3e-2, $"max |Δlogit| = {worst:E2}");
    }

    /// <summary>
    /// GPT-2 with every matrix in Q8_0, including the tied embedding/classifier and the position embedding (read by
    /// row lookups): logits stay within Q8_0's rounding of the F32 model's.
    /// </summary>
    [Fact]
    public void Gpt2RunsWithQuantizedEmbeddingsAndClassifier()
    {
        using var hf = ModelLoader.Load(TestData.Path("models/tiny-hf/gpt2"), new ModelLoadOptions { Threads = 2 });
        var w = ((Gpt2Model)hf.Model).Weights;
        Tensor Q(Tensor t) => Quantizer.Quantize(t, DType.Q8_0);
        var quantized = new Gpt2Weights
        {
            TokenEmbedding = Q(w.TokenEmbedding),
            PositionEmbedding = Q(w.PositionEmbedding),
            LnFWeight = w.LnFWeight,
            LnFBias = w.LnFBias,
            Layers = w.Layers.Select(l => new Gpt2Layer
            {
                Ln1Weight = l.Ln1Weight, Ln1Bias = l.Ln1Bias, Ln2Weight = l.Ln2Weight, Ln2Bias = l.Ln2Bias,
                Wqkv = Q(l.Wqkv), Bqkv = l.Bqkv, Wo = Q(l.Wo), Bo = l.Bo, WFc = Q(l.WFc), BFc = l.BFc, WProj = Q(l.WProj), BProj = l.BProj,
            }).ToArray(),
        };
        using var model = new Gpt2Model(hf.Model.Config, quantized, threads: 2);
        int[] ids = [1, 17, 42, 99, 150, 7, 260, 3];
        int vocab = model.Config.VocabSize;
        var expected = new float[ids.Length * vocab];
        var actual = new float[ids.Length * vocab];
        hf.Model.Forward(hf.Model.CreateState(), ids, expected, allPositions: true);
        model.Forward(model.CreateState(), ids, actual, allPositions: true);
        double worst = expected.Zip(actual, (a, b) => (double)Math.Abs(a - b)).Max();
        output.WriteLine($"GPT-2 Q8_0 vs F32: max |Δlogit| {worst:E2}");
        Assert.True(worst < 3e-2, $"max |Δlogit| = {worst:E2}");
    }
}
