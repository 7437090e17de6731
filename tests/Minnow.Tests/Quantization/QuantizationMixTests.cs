using Minnow.Compression.Quantization;
using Minnow.Tensors;

namespace Minnow.Tests.Quantization;

/// <summary>Per-tensor types of a whole-model conversion, as llama.cpp's llama_tensor_get_type picks them.</summary>
public class QuantizationMixTests
{
    [Fact]
    public void Q4_K_MGivesSensitiveTensorsSixBits()
    {
        var mix = QuantizationMix.Parse("Q4_K_M");
        const int layers = 12;
        // use_more_bits for 12 layers: the first eighth (0), the last eighth (10, 11) and every third between (3, 6, 9).
        int[] sixBit = [0, 3, 6, 9, 10, 11];
        for (int l = 0; l < layers; l++)
        {
            var expected = sixBit.Contains(l) ? DType.Q6_K : DType.Q4_K;
            Assert.Equal(expected, mix.TypeFor($"blk.{l}.ffn_down.weight", [768, 2048], layers, tiedEmbeddings: true));
            Assert.Equal(expected, mix.TypeFor($"blk.{l}.attn_v.weight", [768, 768], layers, tiedEmbeddings: true));
            Assert.Equal(DType.Q4_K, mix.TypeFor($"blk.{l}.attn_q.weight", [768, 768], layers, tiedEmbeddings: true));
            Assert.Equal(DType.F32, mix.TypeFor($"blk.{l}.attn_norm.weight", [768], layers, tiedEmbeddings: true));
        }
        // The classifier: output.weight, or the embedding when tied to it.
        Assert.Equal(DType.Q6_K, mix.TypeFor("token_embd.weight", [32000, 768], layers, tiedEmbeddings: true));
        Assert.Equal(DType.Q4_K, mix.TypeFor("token_embd.weight", [32000, 768], layers, tiedEmbeddings: false));
        Assert.Equal(DType.Q6_K, mix.TypeFor("output.weight", [32000, 768], layers, tiedEmbeddings: false));
    }

    [Fact]
    public void RowsThatAreNotWholeSuperBlocksFallBack()
    {
        // SmolLM2-135M: width 576 is not a multiple of 256, so most matrices fall back to 32-element formats.
        var mix = QuantizationMix.Parse("q4_k_m");
        Assert.Equal(DType.Q5_0, mix.TypeFor("blk.1.attn_q.weight", [576, 576], 30, tiedEmbeddings: true));
        Assert.Equal(DType.Q8_0, mix.TypeFor("blk.0.attn_v.weight", [192, 576], 30, tiedEmbeddings: true));
        Assert.Equal(DType.Q8_0, mix.TypeFor("token_embd.weight", [49152, 576], 30, tiedEmbeddings: true));
        Assert.Equal(DType.Q4_K, mix.TypeFor("blk.4.ffn_down.weight", [576, 1536], 30, tiedEmbeddings: true));
        Assert.Equal(DType.Q6_K, mix.TypeFor("blk.0.ffn_down.weight", [576, 1536], 30, tiedEmbeddings: true));
    }

    [Fact]
    public void PlainTypesApplyToEveryMatrix()
    {
        var mix = QuantizationMix.Parse("q8_0");
        Assert.Equal(DType.Q8_0, mix.TypeFor("output.weight", [320, 64], 2, tiedEmbeddings: false));
        Assert.Equal(DType.Q8_0, mix.TypeFor("blk.0.ffn_down.weight", [64, 128], 2, tiedEmbeddings: false));
        Assert.Equal(DType.F32, mix.TypeFor("output_norm.weight", [64], 2, tiedEmbeddings: false));
        Assert.Equal(DType.F32, mix.TypeFor("position_embd.weight", [1024, 768], 12, tiedEmbeddings: true));
        Assert.Equal(DType.BF16, QuantizationMix.Parse("bf16").TypeFor("blk.0.attn_q.weight", [64, 64], 2, tiedEmbeddings: false));
        Assert.Contains("unknown quantization type 'q3_k_s'", Assert.Throws<InvalidInputException>(() => QuantizationMix.Parse("q3_k_s")).Message);
    }
}
