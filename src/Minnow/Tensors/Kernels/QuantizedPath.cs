using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Which instruction set the quantized kernels use. Tests force each supported path in turn and compare it with the
/// scalar twin. .NET 10 exposes VNNI only as the 256-bit <see cref="AvxVnni"/> class, which CPUs with AVX-512 VNNI
/// but not AVX-VNNI (e.g. AMD Zen 4, Intel Ice Lake) report as unsupported, so those run the AVX-512BW path.
/// </summary>
public enum QuantizedPath
{
    /// <summary>Dequantize each weight row, then a plain float dot product: the reference twin.</summary>
    Scalar,
    /// <summary>Vector128 integer dot products (SSE on x64, NEON on Arm).</summary>
    Portable,
    /// <summary>256-bit AVX2: vpmaddubsw + vpmaddwd.</summary>
    Avx2,
    /// <summary>256-bit AVX-VNNI: vpdpbusd / vpdpwssd fuse the multiply and the accumulate.</summary>
    AvxVnni,
    /// <summary>
    /// AVX-512BW: 512-bit vpmaddubsw + vpmaddwd on two 32-element chunks of a K-quant super-block at once; with AVX-512
    /// VBMI, Q4_0, Q5_0 (and Q8_0 for prompts) gather four blocks per vector with byte permutes
    /// (<see cref="Block32Dot512{TF}"/>); the other 32-element formats run the 256-bit kernel, with VNNI's multiply where
    /// the CPU also has AVX-VNNI.
    /// </summary>
    Avx512,
}

public static class QuantizedSimd
{
    /// <summary>True when this CPU can run <paramref name="path"/>.</summary>
    public static bool IsSupported(QuantizedPath path) => path switch
    {
        QuantizedPath.Scalar => true,
        QuantizedPath.Portable => Vector128.IsHardwareAccelerated,
        QuantizedPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        QuantizedPath.AvxVnni => AvxVnni.IsSupported && Fma.IsSupported,
        QuantizedPath.Avx512 => Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary>The path used unless a test overrides it: the widest this CPU supports.</summary>
    public static QuantizedPath Best { get; } =
        IsSupported(QuantizedPath.Avx512) ? QuantizedPath.Avx512 :
        IsSupported(QuantizedPath.AvxVnni) ? QuantizedPath.AvxVnni :
        IsSupported(QuantizedPath.Avx2) ? QuantizedPath.Avx2 :
        IsSupported(QuantizedPath.Portable) ? QuantizedPath.Portable : QuantizedPath.Scalar;

    private static QuantizedPath _active = Best;

    /// <summary>The path the quantized kernels use; settable to any supported path.</summary>
    public static QuantizedPath Active
    {
        get => _active;
        set
        {
            if (!IsSupported(value))
                throw new InvalidInputException($"this CPU cannot run the {value} quantized path");
            _active = value;
        }
    }
}
