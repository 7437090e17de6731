using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>Reading single rows of a matrix as fp32 (embedding lookups), whatever the storage type: quantized rows are dequantized in place.</summary>
public static unsafe class TensorRows
{
    public static void Copy(Tensor matrix, int row, Span<float> destination)
    {
        if ((uint)row >= (uint)matrix.Rows)
            throw new InvalidInputException($"row {row} is outside '{matrix.Name}' ({matrix.Rows} rows)");
        long rowBytes = matrix.DType.ByteCount(matrix.Columns);
        Quantizer.Dequantize(matrix.DType, new ReadOnlySpan<byte>((byte*)matrix.Data + row * rowBytes, checked((int)rowBytes)), destination[..matrix.Columns]);
    }
}
