using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>Which vector width the fp32 kernels use. Tests force each width in turn to check every path against the scalar twins.</summary>
public enum SimdWidth
{
    /// <summary>Plain scalar loops (the reference twins).</summary>
    Scalar,
    /// <summary>System.Numerics.Vector&lt;float&gt;: 256-bit on AVX2 x64, 128-bit on Arm NEON; the portable path.</summary>
    Portable,
    /// <summary>Vector256 with FMA (AVX2 x64): register tiles sized for its 16 registers.</summary>
    Vector256,
    /// <summary>Vector512 (AVX-512): register tiles sized for its 32 registers.</summary>
    Vector512,
}

public static class Simd
{
    /// <summary>The widest path this CPU runs in hardware.</summary>
    public static SimdWidth Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdWidth.Vector512 :
        Vector256.IsHardwareAccelerated && Fma.IsSupported ? SimdWidth.Vector256 :
        Vector.IsHardwareAccelerated ? SimdWidth.Portable : SimdWidth.Scalar;

    private static SimdWidth _active = Best;

    /// <summary>The path kernels use; settable (to a width the CPU supports) so tests can exercise each one.</summary>
    public static SimdWidth Active
    {
        get => _active;
        set
        {
            if (value > Best)
                throw new InvalidInputException($"this CPU cannot run the {value} path (best is {Best})");
            _active = value;
        }
    }
}
