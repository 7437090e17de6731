namespace Minnow.Tensors.Kernels;

/// <summary>Reading single rows of a matrix as fp32 (embedding lookups), whatever the storage type.</summary>
public static class TensorRows
{
    public static void Copy(Tensor matrix, int row, Span<float> destination)
    {
        if ((uint)row >= (uint)matrix.Rows)
            throw new InvalidInputException($"row {row} is outside '{matrix.Name}' ({matrix.Rows} rows)");
        switch (matrix.DType)
        {
            case DType.F32:
                matrix.Row(row).CopyTo(destination);
                break;
            default:
                throw new NotSupportedException($"reading rows of {matrix.DType} tensor '{matrix.Name}' is not supported");
        }
    }
}
