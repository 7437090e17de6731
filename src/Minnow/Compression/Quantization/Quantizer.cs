using System.Runtime.InteropServices;
using Minnow.Tensors;

namespace Minnow.Compression.Quantization;

/// <summary>
/// Converts between fp32 and ggml's storage types: F16, BF16, the 32-element block formats (Q8_0, Q4_0, Q4_1, Q5_0,
/// Q5_1) and the K-quants (Q2_K…Q6_K). Every type here dequantizes; F16, BF16, the 32-element formats, Q4_K and
/// Q6_K also quantize. Quantizing works row by row: a row must be a whole number of blocks
/// (see <see cref="FallbackFor"/> for the type llama.cpp uses instead when it is not).
/// </summary>
public static class Quantizer
{
    /// <summary>True when <see cref="Dequantize(DType, ReadOnlySpan{byte}, Span{float})"/> reads <paramref name="type"/>.</summary>
    public static bool CanDequantize(DType type) => type is DType.F32 or DType.F16 or DType.BF16
        or DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1
        or DType.Q2_K or DType.Q3_K or DType.Q4_K or DType.Q5_K or DType.Q6_K;

    /// <summary>True when <see cref="Quantize(Tensor, DType)"/> writes <paramref name="type"/>.</summary>
    public static bool CanQuantize(DType type) => type is DType.F32 or DType.F16 or DType.BF16
        or DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1 or DType.Q4_K or DType.Q6_K;

    /// <summary>
    /// Decodes <paramref name="source"/> (whole blocks of <paramref name="type"/>, as stored in GGUF) into
    /// <paramref name="destination"/>, which must hold exactly the elements those blocks encode.
    /// </summary>
    public static void Dequantize(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!CanDequantize(type))
            throw Unsupported(type);
        int blockSize = type.BlockSize(), blockBytes = type.BlockBytes();
        if (source.Length % blockBytes != 0 || (long)source.Length / blockBytes * blockSize != destination.Length)
            throw new ArgumentException($"{source.Length} bytes of {type} do not decode to {destination.Length} elements");
        switch (type)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                return;
            case DType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                return;
            case DType.BF16:
                TensorConvert.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), destination);
                return;
        }
        bool k = blockSize == KQuants.Size;
        for (int b = 0; b < destination.Length / blockSize; b++)
        {
            var block = source.Slice(b * blockBytes, blockBytes);
            var y = destination.Slice(b * blockSize, blockSize);
            if (k)
                KQuants.Dequantize(type, block, y);
            else
                Blocks32.Dequantize(type, block, y);
        }
    }

    /// <summary>
    /// Encodes <paramref name="source"/> as <paramref name="type"/> into <paramref name="destination"/>, block after
    /// block; the length must be a whole number of blocks.
    /// </summary>
    public static void Quantize(DType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        if (!CanQuantize(type))
            throw Unsupported(type);
        int blockSize = type.BlockSize(), blockBytes = type.BlockBytes();
        if (source.Length % blockSize != 0)
            throw new InvalidInputException($"{source.Length} values are not a whole number of {type} blocks of {blockSize}; use {FallbackFor(type, source.Length)} instead");
        if (destination.Length != (long)source.Length / blockSize * blockBytes)
            throw new ArgumentException($"{destination.Length} bytes cannot hold {source.Length} values as {type}");
        switch (type)
        {
            case DType.F32:
                source.CopyTo(MemoryMarshal.Cast<byte, float>(destination));
                return;
            case DType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                return;
            case DType.BF16:
                TensorConvert.SingleToBFloat16(source, MemoryMarshal.Cast<byte, ushort>(destination));
                return;
        }
        for (int b = 0; b < source.Length / blockSize; b++)
        {
            var x = source.Slice(b * blockSize, blockSize);
            var block = destination.Slice(b * blockBytes, blockBytes);
            switch (type)
            {
                case DType.Q4_K: KQuantizer.QuantizeQ4K(x, block); break;
                case DType.Q6_K: KQuantizer.QuantizeQ6K(x, block); break;
                default: Blocks32.Quantize(type, x, block); break;
            }
        }
    }

    /// <summary>
    /// A new tensor holding <paramref name="source"/> (any type <see cref="CanDequantize"/> reads) as
    /// <paramref name="target"/>, with the same name and shape. Rows are quantized in parallel.
    /// </summary>
    public static Tensor Quantize(Tensor source, DType target)
    {
        if (!CanQuantize(target))
            throw Unsupported(target);
        int columns = source.Columns;
        if (columns % target.BlockSize() != 0)
            throw new InvalidInputException($"tensor '{source.Name}' has rows of {columns}, not a whole number of {target} blocks of {target.BlockSize()}; use {FallbackFor(target, columns)} instead");
        var floats = TensorConvert.ToF32(source);
        var result = Tensor.Allocate(source.Name, target, source.Shape);
        long rowBytes = target.ByteCount(columns);
        int rows = checked((int)(source.ElementCount / Math.Max(columns, 1)));
        const int rowsPerTask = 16;
        Parallel.For(0, (rows + rowsPerTask - 1) / rowsPerTask, chunk =>
        {
            var input = floats.AsFloats();
            var output = result.AsSpan<byte>();
            for (int r = chunk * rowsPerTask; r < Math.Min(rows, (chunk + 1) * rowsPerTask); r++)
                Quantize(target, input.Slice(r * columns, columns), output.Slice((int)(r * rowBytes), (int)rowBytes));
        });
        return result;
    }

    /// <summary>
    /// The type llama.cpp writes instead of <paramref name="target"/> when rows of <paramref name="columns"/> elements
    /// are not whole blocks: K-quants fall back to a 32-element format of similar size (Q2_K, Q3_K → Q4_0; Q4_K → Q5_0;
    /// Q5_K → Q5_1; Q6_K → Q8_0), and anything that still does not fit to F16. Returns <paramref name="target"/> itself when
    /// it fits.
    /// </summary>
    public static DType FallbackFor(DType target, int columns)
    {
        if (columns % target.BlockSize() == 0)
            return target;
        var fallback = target switch
        {
            DType.Q2_K or DType.Q3_K => DType.Q4_0,
            DType.Q4_K => DType.Q5_0,
            DType.Q5_K => DType.Q5_1,
            DType.Q6_K => DType.Q8_0,
            _ => DType.F16,
        };
        return columns % fallback.BlockSize() == 0 ? fallback : DType.F16;
    }

    internal static NotSupportedException Unsupported(DType type) =>
        new($"unsupported tensor type {type}: Minnow reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and Q2_K–Q6_K, and writes all of those but Q2_K, Q3_K and Q5_K");
}
