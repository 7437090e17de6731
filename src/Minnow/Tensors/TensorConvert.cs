using System.Runtime.InteropServices;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors;

/// <summary>Conversions between element types of whole tensors (the block formats themselves live in <see cref="Quantizer"/>).</summary>
public static class TensorConvert
{
    /// <summary>An F32 copy of a tensor of any type the quantizer reads (an F32 tensor is returned as is, not copied).</summary>
    public static Tensor ToF32(Tensor t)
    {
        if (t.DType == DType.F32)
            return t;
        var result = Tensor.Zeros(t.Name, t.Shape);
        ToF32(t, result.AsFloats());
        return result;
    }

    /// <summary>Writes the elements of <paramref name="t"/> as floats (dequantizing block types bit-exactly as gguf-py does).</summary>
    public static void ToF32(Tensor t, Span<float> destination)
    {
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"destination holds {destination.Length} floats, '{t.Name}' has {t.ElementCount} elements");
        Quantizer.Dequantize(t.DType, t.AsBytes(), destination);
    }

    /// <summary>bfloat16 is the top half of a float32: shift the bits left by 16.</summary>
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        var bits = MemoryMarshal.Cast<float, uint>(destination);
        for (int i = 0; i < source.Length; i++)
            bits[i] = (uint)source[i] << 16;
    }

    /// <summary>float32 → bfloat16 with round-to-nearest-even (NaN stays NaN), as PyTorch rounds.</summary>
    public static void SingleToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        var bits = MemoryMarshal.Cast<float, uint>(source);
        for (int i = 0; i < source.Length; i++)
        {
            uint b = bits[i];
            destination[i] = float.IsNaN(source[i]) ? (ushort)((b >> 16) | 0x40) : (ushort)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
        }
    }

    /// <summary>A copy of an F32 tensor in <paramref name="target"/> (F16, BF16, F32 or any type the quantizer writes).</summary>
    public static Tensor FromF32(Tensor t, DType target) => Quantizer.Quantize(t, target);

    /// <summary>An F32 copy of a 2-D tensor with rows and columns swapped (e.g. HF Conv1D [in, out] → [out, in]).</summary>
    public static Tensor Transposed(Tensor t)
    {
        if (t.Shape.Length != 2)
            throw new InvalidInputException($"cannot transpose '{t.Name}': it has {t.Shape.Length} dimensions, not 2");
        var source = ToF32(t).AsFloats();
        int rows = t.Shape[0], columns = t.Shape[1];
        var result = Tensor.Zeros(t.Name, columns, rows);
        var destination = result.AsFloats();
        const int block = 32;
        for (int r0 = 0; r0 < rows; r0 += block)
            for (int c0 = 0; c0 < columns; c0 += block)
                for (int r = r0; r < Math.Min(r0 + block, rows); r++)
                    for (int c = c0; c < Math.Min(c0 + block, columns); c++)
                        destination[c * rows + r] = source[r * columns + c];
        return result;
    }

    /// <summary>An F32 matrix whose rows are the rows of <paramref name="parts"/> in order (e.g. a fused q/k/v projection).</summary>
    public static Tensor ConcatenateRows(string name, params Tensor[] parts)
    {
        int columns = parts[0].Columns;
        if (parts.Any(p => p.Columns != columns))
            throw new InvalidInputException($"cannot stack rows of different lengths into '{name}'");
        var result = Tensor.Zeros(name, parts.Sum(p => p.Rows), columns);
        int row = 0;
        foreach (var part in parts)
        {
            ToF32(part, result.AsFloats().Slice(row * columns, part.Rows * columns));
            row += part.Rows;
        }
        return result;
    }

    /// <summary>An F32 copy of <paramref name="t"/> with <paramref name="offset"/> added to every element (Gemma's 1+w norms).</summary>
    public static Tensor Plus(Tensor t, float offset)
    {
        var result = Tensor.FromFloats(t.Name, ToF32(t).AsFloats(), t.Shape);
        System.Numerics.Tensors.TensorPrimitives.Add(result.AsFloats(), offset, result.AsFloats());
        return result;
    }
}
