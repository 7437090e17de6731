namespace Minnow.Tensors;

/// <summary>Element or block types of tensor data. Values are ggml's type ids, so GGUF files map directly.</summary>
public enum DType
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
    /// <summary>Unsigned bytes (safetensors U8/BOOL, e.g. pruning masks); not a ggml type, so numbered far from them.</summary>
    U8 = 1000,
}

public static class DTypeInfo
{
    /// <summary>Elements per block (1 for plain types).</summary>
    public static int BlockSize(this DType t) => t switch
    {
        DType.F32 or DType.F16 or DType.BF16 or DType.I8 or DType.U8 or DType.I16 or DType.I32 or DType.I64 or DType.F64 => 1,
        DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1 or DType.Q8_0 or DType.Q8_1 => 32,
        _ => 256,
    };

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(this DType t) => t switch
    {
        DType.F32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.I8 or DType.U8 => 1,
        DType.I32 => 4,
        DType.I64 or DType.F64 => 8,
        DType.Q4_0 => 18,
        DType.Q4_1 => 20,
        DType.Q5_0 => 22,
        DType.Q5_1 => 24,
        DType.Q8_0 => 34,
        DType.Q8_1 => 36,
        DType.Q2_K => 84,
        DType.Q3_K => 110,
        DType.Q4_K => 144,
        DType.Q5_K => 176,
        DType.Q6_K => 210,
        DType.Q8_K => 292,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown tensor type"),
    };

    /// <summary>Bytes needed for <paramref name="elements"/> elements (must be a whole number of blocks).</summary>
    public static long ByteCount(this DType t, long elements)
    {
        int bs = t.BlockSize();
        if (elements % bs != 0)
            throw new InvalidInputException($"{elements} elements is not a whole number of {t} blocks of {bs}");
        return elements / bs * t.BlockBytes();
    }
}
