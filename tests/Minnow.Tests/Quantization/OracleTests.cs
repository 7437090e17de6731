using System.Runtime.InteropServices;
using Minnow.Compression.Quantization;
using Minnow.Tensors;

namespace Minnow.Tests.Quantization;

/// <summary>
/// ../shared/data/quant: gguf-py's bytes and dequantized values for a [4, 512] input with awkward rows (outliers,
/// all-zero, constant and one-signed blocks, values up to 58953.6).
/// </summary>
public class OracleTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rows = 4, Columns = 512;

    internal static float[] Floats(string file) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(TestData.Path("quant/" + file))).ToArray();

    internal static float[] Input => Floats("input.f32");

    public static IEnumerable<object[]> AllTypes() =>
        new[] { "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K" }.Select(t => new object[] { t });

    public static IEnumerable<object[]> QuantizableTypes() =>
        new[] { "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1" }.Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void DequantizesBitExactly(string type)
    {
        var dtype = Enum.Parse<DType>(type);
        byte[] bytes = File.ReadAllBytes(TestData.Path($"quant/{type}.bin"));
        var expected = Floats($"{type}.dequant.f32");
        var actual = new float[Rows * Columns];
        Quantizer.Dequantize(dtype, bytes, actual);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                $"{type} element {i}: {actual[i]:R} vs {expected[i]:R}");
    }

    [Theory]
    [MemberData(nameof(QuantizableTypes))]
    public void QuantizesToTheOracleBytes(string type)
    {
        var dtype = Enum.Parse<DType>(type);
        var input = Tensor.FromFloats("input", Input, Rows, Columns);
        var quantized = Quantizer.Quantize(input, dtype);
        byte[] expected = File.ReadAllBytes(TestData.Path($"quant/{type}.bin"));
        var actual = quantized.AsBytes().ToArray();
        int firstDifference = actual.AsSpan().CommonPrefixLength(expected);
        Assert.True(firstDifference == expected.Length && actual.Length == expected.Length,
            $"{type}: bytes differ from offset {firstDifference} (block {firstDifference / dtype.BlockBytes()})");
    }

    /// <summary>Max absolute and root-mean-square error of quantize → dequantize on the oracle input.</summary>
    internal static (double Max, double Rms) RoundTripError(DType type)
    {
        var input = Input;
        var quantized = Quantizer.Quantize(Tensor.FromFloats("input", input, Rows, Columns), type);
        var back = new float[input.Length];
        Quantizer.Dequantize(type, quantized.AsBytes(), back);
        double max = 0, sum = 0;
        for (int i = 0; i < input.Length; i++)
        {
            double e = Math.Abs(back[i] - input[i]);
            max = Math.Max(max, e);
            sum += e * e;
        }
        return (max, Math.Sqrt(sum / input.Length));
    }

    [Theory]
    [InlineData("Q4_K", "Q4_0")]
    [InlineData("Q6_K", "Q5_0")]
    public void KQuantRoundTripIsNoWorseThanTheLegacyType(string type, string baseline)
    {
        var k = RoundTripError(Enum.Parse<DType>(type));
        var legacy = RoundTripError(Enum.Parse<DType>(baseline));
        output.WriteLine($"round trip on input.f32: {type} max {k.Max:G4} rms {k.Rms:G4}; {baseline} max {legacy.Max:G4} rms {legacy.Rms:G4}");
        Assert.True(k.Max <= legacy.Max, $"{type} max error {k.Max} > {baseline} {legacy.Max}");
        Assert.True(k.Rms <= legacy.Rms, $"{type} rms error {k.Rms} > {baseline} {legacy.Rms}");
    }

    [Fact]
    public void UnsupportedTypesAreClearErrors()
    {
        Assert.Contains("unsupported tensor type Q8_K", Assert.Throws<NotSupportedException>(() => Quantizer.Dequantize(DType.Q8_K, new byte[292], new float[256])).Message);
        Assert.Contains("unsupported tensor type Q3_K", Assert.Throws<NotSupportedException>(() => Quantizer.Quantize(DType.Q3_K, new float[256], new byte[110])).Message);
        var odd = Tensor.Zeros("w", 2, 96);
        Assert.Contains("use Q5_0 instead", Assert.Throws<InvalidInputException>(() => Quantizer.Quantize(odd, DType.Q4_K)).Message);
    }

    [Theory]
    [InlineData(DType.Q4_K, 4096, DType.Q4_K)]
    [InlineData(DType.Q4_K, 576, DType.Q5_0)]
    [InlineData(DType.Q6_K, 1536, DType.Q6_K)]
    [InlineData(DType.Q6_K, 64, DType.Q8_0)]
    [InlineData(DType.Q5_K, 96, DType.Q5_1)]
    [InlineData(DType.Q2_K, 96, DType.Q4_0)]
    [InlineData(DType.Q3_K, 100, DType.F16)]
    public void FallbackTypesFollowLlamaCpp(DType target, int columns, DType expected) =>
        Assert.Equal(expected, Quantizer.FallbackFor(target, columns));
}
