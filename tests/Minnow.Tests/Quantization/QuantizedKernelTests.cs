using Minnow.Compression.Quantization;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Tests.Quantization;

/// <summary>
/// Every quantized kernel path against the scalar dequantize-then-dot twin, on odd shapes and random block bytes
/// (every bit pattern, e.g. Q8_0's −128 and Q6_K's −128 scale); and the twin against float64 with exact activations,
/// within the bound that int8 rounding of the activations allows. Tests that switch paths run serially.
/// </summary>
[Collection("Simd")]
public class QuantizedKernelTests
{
    public static readonly DType[] Types = [DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K, DType.Q6_K];

    public static IEnumerable<object[]> PathsAndTypes() =>
        from path in Enum.GetValues<QuantizedPath>()
        where path != QuantizedPath.Scalar && QuantizedSimd.IsSupported(path)
        from type in Types
        select new object[] { path, type };

    /// <summary>Offsets of the half-float scales in a block, overwritten with finite values of either sign after filling with random bytes.</summary>
    private static int[] ScaleOffsets(DType type) => type switch
    {
        DType.Q4_1 or DType.Q5_1 or DType.Q4_K or DType.Q5_K => [0, 2],
        DType.Q2_K => [80, 82],
        DType.Q3_K => [108],
        DType.Q6_K => [208],
        _ => [0],
    };

    internal static Tensor RandomWeights(DType type, int rows, int columns, ulong seed)
    {
        var w = Tensor.Allocate("w", type, rows, columns);
        var bytes = w.AsSpan<byte>();
        var rng = new Rng(seed);
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)rng.NextUInt32();
        for (int block = 0; block < bytes.Length / type.BlockBytes(); block++)
            foreach (int at in ScaleOffsets(type))
                BitConverter.TryWriteBytes(bytes[(block * type.BlockBytes() + at)..], (Half)((rng.NextUInt32() % 2 == 0 ? 1 : -1) * (0.001f + 0.02f * rng.NextFloat())));
        return w;
    }

    internal static float[] RandomActivations(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = rng.NextGaussian() * (i % 7 == 0 ? 5 : 1);
        return x;
    }

    private static float[] Run(QuantizedPath path, Tensor w, float[] x, int tokens, WorkerPool pool)
    {
        var saved = QuantizedSimd.Active;
        QuantizedSimd.Active = path;
        try
        {
            var y = new float[tokens * w.Rows];
            MatMul.Compute(w, x, y, tokens, pool);
            return y;
        }
        finally
        {
            QuantizedSimd.Active = saved;
        }
    }

    private static IEnumerable<(int Rows, int Columns, int Tokens)> Shapes(DType type)
    {
        int block = type.BlockSize();
        yield return (1, block, 1);
        yield return (7, 3 * block, 3);
        yield return (37, block == 32 ? 544 : 768, 9);
        yield return (18, 2 * block, 4);
        yield return (24, 5 * block, 1);
        // Whole groups of eight blocks and an odd row count: decode takes rows two at a time, then the last alone.
        yield return (33, 512, 1);
        yield return (17, 256, 5);
        // SmolLM2's 576-wide rows: two groups of eight blocks and two left over.
        if (block == 32)
            yield return (9, 576, 5);
        // A tile of 16 rows goes as one stream of groups of eight blocks, a group spanning rows where the row is not
        // whole groups (RowStream), for four tokens at once and then one by one: 18 blocks (a period of 4 rows), 11 and
        // 3 blocks (8 rows), and a last tile whose blocks do not come to whole groups (5 rows of 11), row by row.
        if (block == 32)
        {
            yield return (40, 576, 6);
            yield return (21, 352, 3);
            yield return (48, 96, 1);
        }
    }

    /// <summary>
    /// Extreme blocks against extreme activations: every quant byte the same (0xFF: every nibble 15, every fifth and
    /// high bit set, Q8_0's −1; 0x77; 0x80: Q8_0's −128) and every activation +1 or −1 (all int8 at ±127), for 16-bit
    /// sums that would overflow if a kernel added too many products before widening. Each path against the twin, to
    /// 1e-4: the twin adds hundreds of same-signed float products in order (the integer kernels agree with each other
    /// exactly).
    /// </summary>
    [Theory]
    [MemberData(nameof(PathsAndTypes))]
    public void ExtremeBlocksDoNotOverflow(QuantizedPath path, DType type)
    {
        using var pool = new WorkerPool(2);
        int columns = type.BlockSize() == 32 ? 576 : 768, rows = 35, tokens = 5;
        foreach (byte fill in new byte[] { 0xFF, 0x77, 0x80 })
            foreach (float sign in new[] { 1f, -1f })
            {
                var w = Tensor.Allocate("w", type, rows, columns);
                var bytes = w.AsSpan<byte>();
                bytes.Fill(fill);
                for (int block = 0; block < bytes.Length / type.BlockBytes(); block++)
                    foreach (int at in ScaleOffsets(type))
                        BitConverter.TryWriteBytes(bytes[(block * type.BlockBytes() + at)..], (Half)0.01f);
                var x = Enumerable.Repeat(sign, tokens * columns).ToArray();
                var fast = Run(path, w, x, tokens, pool);
                var slow = Run(QuantizedPath.Scalar, w, x, tokens, pool);
                for (int i = 0; i < fast.Length; i++)
                    Assert.True(Math.Abs(fast[i] - slow[i]) <= 1e-4 * Math.Abs(slow[i]) + 1e-4,
                        $"{path} {type} fill 0x{fill:X2} x {sign}: output {i} {fast[i]} vs scalar {slow[i]}");
            }
    }

    /// <summary>
    /// The interleaved copy's rearranged Q5_0 fifth bits: value 4k + j's bit at 8j + k, value 16 + 4k + j's at
    /// 8j + 4 + k; the BMI2 form (pext) and the portable one agree on every single bit and on random words.
    /// </summary>
    [Fact]
    public void FifthBitsRearrangeAsTheKernelReadsThem()
    {
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++)
            {
                Assert.Equal(1u << (8 * j + k), Interleaved.FifthBits(1u << (4 * k + j)));
                Assert.Equal(1u << (8 * j + 4 + k), Interleaved.FifthBits(1u << (16 + 4 * k + j)));
                Assert.Equal(1u << (8 * j + k), Interleaved.FifthBitsPortable(1u << (4 * k + j)));
                Assert.Equal(1u << (8 * j + 4 + k), Interleaved.FifthBitsPortable(1u << (16 + 4 * k + j)));
            }
        var rng = new Random(5);
        for (int i = 0; i < 10_000; i++)
        {
            uint qh = (uint)rng.NextInt64(0, 1L << 32);
            Assert.Equal(Interleaved.FifthBitsPortable(qh), Interleaved.FifthBits(qh));
        }
    }

    [Theory]
    [MemberData(nameof(PathsAndTypes))]
    public void PathMatchesScalarTwin(QuantizedPath path, DType type)
    {
        using var pool = new WorkerPool(2);
        foreach (var (rows, columns, tokens) in Shapes(type))
        {
            var w = RandomWeights(type, rows, columns, (ulong)(rows * columns));
            var x = RandomActivations(tokens * columns, 7);
            var fast = Run(path, w, x, tokens, pool);
            var slow = Run(QuantizedPath.Scalar, w, x, tokens, pool);
            var dequantized = TensorConvert.ToF32(w).AsFloats().ToArray();
            for (int t = 0; t < tokens; t++)
                for (int o = 0; o < rows; o++)
                {
                    double magnitude = 0;
                    for (int i = 0; i < columns; i++)
                        magnitude += Math.Abs(dequantized[o * columns + i] * x[t * columns + i]);
                    float a = fast[t * rows + o], b = slow[t * rows + o];
                    Assert.True(Math.Abs(a - b) <= 1e-5 * magnitude + 1e-6,
                        $"{path} {type} [{rows}x{columns}] token {t} row {o}: {a} vs scalar {b} (magnitude {magnitude})");
                }
        }
    }

    /// <summary>
    /// q/k/v and gate/up as one parallel section with the input quantized once give exactly what separate products
    /// give, also when the types mix (Q4_K_M puts Q6_K next to Q4_K) and when they cannot share activations
    /// (a 32-element format next to a K-quant: run one after another).
    /// </summary>
    [Theory]
    [InlineData(DType.Q4_K, DType.Q6_K, DType.Q4_K, 512)]
    [InlineData(DType.Q4_0, DType.Q8_0, DType.Q5_0, 544)]
    [InlineData(DType.Q4_0, DType.Q4_K, DType.Q6_K, 256)]
    public void MatricesSharingAnInputMatchSeparateProducts(DType type0, DType type1, DType type2, int columns)
    {
        using var pool = new WorkerPool(2);
        var w0 = RandomWeights(type0, 37, columns, 21);
        var w1 = RandomWeights(type1, 16, columns, 22);
        var w2 = RandomWeights(type2, 50, columns, 23);
        foreach (int tokens in new[] { 1, 6 })
        {
            var x = RandomActivations(tokens * columns, 24);
            float[] Separate(Tensor w)
            {
                var y = new float[tokens * w.Rows];
                MatMul.Compute(w, x, y, tokens, pool);
                return y;
            }
            var (y0, y1, y2) = (new float[tokens * w0.Rows], new float[tokens * w1.Rows], new float[tokens * w2.Rows]);
            MatMul.Compute(x, tokens, pool, w0, y0, w1, y1, w2, y2);
            Assert.Equal(Separate(w0), y0);
            Assert.Equal(Separate(w1), y1);
            Assert.Equal(Separate(w2), y2);
            var (g, u) = (new float[tokens * w0.Rows], new float[tokens * w1.Rows]);
            MatMul.Compute(x, tokens, pool, w0, g, w1, u);
            Assert.Equal(Separate(w0), g);
            Assert.Equal(Separate(w1), u);
        }
    }

    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_1)]
    [InlineData(DType.Q5_0)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    public void ScalarTwinIsDequantizeThenDotUpToActivationRounding(DType type)
    {
        using var pool = new WorkerPool(1);
        int rows = 5, columns = 2 * type.BlockSize() * (type.BlockSize() == 32 ? 4 : 1), tokens = 2;
        var w = RandomWeights(type, rows, columns, 11);
        var x = RandomActivations(tokens * columns, 12);
        var y = Run(QuantizedPath.Scalar, w, x, tokens, pool);
        var dequantized = TensorConvert.ToF32(w).AsFloats().ToArray();
        int block = type.BlockSize();
        for (int t = 0; t < tokens; t++)
            for (int o = 0; o < rows; o++)
            {
                double exact = 0, bound = 1e-4;
                for (int b = 0; b < columns / block; b++)
                {
                    // Activations are rounded to multiples of d = max|x|/127 over their block: off by at most d/2 each.
                    double amax = 0;
                    for (int i = b * block; i < (b + 1) * block; i++)
                        amax = Math.Max(amax, Math.Abs(x[t * columns + i]));
                    for (int i = b * block; i < (b + 1) * block; i++)
                    {
                        exact += (double)dequantized[o * columns + i] * x[t * columns + i];
                        bound += Math.Abs(dequantized[o * columns + i]) * amax / 127 / 2;
                    }
                }
                Assert.True(Math.Abs(y[t * rows + o] - exact) <= bound, $"{type} token {t} row {o}: {y[t * rows + o]} vs {exact} (bound {bound})");
            }
    }

    [Fact]
    public void UnsupportedWeightTypesAreClearErrors()
    {
        using var pool = new WorkerPool(1);
        var w = Tensor.Allocate("w", DType.F16, 2, 32);
        var error = Assert.Throws<NotSupportedException>(() => MatMul.Compute(w, new float[32], new float[2], 1, pool));
        Assert.Contains("unsupported tensor type F16", error.Message);
    }

    /// <summary>
    /// The 32-element kernels' conversion of half-float scales held in the top half of each lane is exact for every
    /// finite half float (subnormals and negative zero included), whatever the lane's low 16 bits hold.
    /// </summary>
    [Fact]
    public void HalfConversionFromHighBitsIsExactForFiniteValues()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            return;
        var rng = new Rng(5);
        for (int h = 0; h < 65536; h += 8)
        {
            var lanes = new int[8];
            for (int i = 0; i < 8; i++)
                lanes[i] = ((h + i) << 16) | (int)(rng.NextUInt32() & 0xFFFF);
            var converted = HalfTable.FiniteFromHighHalves(System.Runtime.Intrinsics.Vector256.Create(lanes));
            for (int i = 0; i < 8; i++)
            {
                var half = BitConverter.UInt16BitsToHalf((ushort)(h + i));
                if (!Half.IsFinite(half))
                    continue;
                Assert.True(BitConverter.SingleToInt32Bits((float)half) == BitConverter.SingleToInt32Bits(converted[i]),
                    $"half 0x{h + i:X4}: {converted[i]} vs {(float)half}");
            }
        }
    }
}
