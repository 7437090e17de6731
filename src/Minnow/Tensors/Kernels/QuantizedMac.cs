using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The 256-bit integer multiply-accumulate the x64 kernels are generic over, so AVX2 and AVX-VNNI share one loop:
/// unsigned weight bytes times signed activation bytes, summed into 32-bit lanes. Unsigned weights are at most 63,
/// so vpmaddubsw's saturating 16-bit pair sums never saturate (2·63·127 &lt; 32767).
/// </summary>
internal interface IMac
{
    /// <summary>acc + Σ u·x, four (VNNI) or two-then-two (AVX2) products per 32-bit lane.</summary>
    static abstract Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x);

    /// <summary>
    /// acc + Σ u·x·scale, where 16-bit lanes 0–7 (elements 0–15) use scale lane values as given: the K-quants' per-16
    /// integer scales ride along in the second multiply-add.
    /// </summary>
    static abstract Vector256<int> DotScaled(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x, Vector256<short> scales);

    /// <summary>Σ u·x + Σ v·y for u, v ≤ 31 (AVX2 adds the two 16-bit pair sums before widening: 2·2·31·127 &lt; 32767).</summary>
    static abstract Vector256<int> Dot2(Vector256<byte> u, Vector256<sbyte> x, Vector256<byte> v, Vector256<sbyte> y);
}

internal struct Avx2Mac : IMac
{
    private static Vector256<short> Ones { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256.Create((short)1); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, x), Ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotScaled(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x, Vector256<short> scales) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, x), scales);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot2(Vector256<byte> u, Vector256<sbyte> x, Vector256<byte> v, Vector256<sbyte> y) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, x) + Avx2.MultiplyAddAdjacent(v, y), Ones);
}

internal struct VnniMac : IMac
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x) =>
        AvxVnni.MultiplyWideningAndAdd(acc, u, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotScaled(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x, Vector256<short> scales) =>
        AvxVnni.MultiplyWideningAndAdd(acc, Avx2.MultiplyAddAdjacent(u, x), scales);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot2(Vector256<byte> u, Vector256<sbyte> x, Vector256<byte> v, Vector256<sbyte> y) =>
        AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, x), v, y);
}

/// <summary>Integer dot products for the portable path: widen to 16 bits, multiply, widen to 32 and add.</summary>
internal static class PortableMac
{
    /// <summary>Σ u·x over 16 values, in four 32-bit lanes (u ≤ 63, so every product fits 16 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<byte> u, Vector128<sbyte> x)
    {
        var (u0, u1) = Vector128.Widen(u);
        var (x0, x1) = Vector128.Widen(x);
        return Pairs(u0.AsInt16() * x0, u1.AsInt16() * x1);
    }

    /// <summary>Σ w·x over 16 signed values (|w|, |x| ≤ 128, so every product fits 16 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotSigned(Vector128<sbyte> w, Vector128<sbyte> x)
    {
        var (w0, w1) = Vector128.Widen(w);
        var (x0, x1) = Vector128.Widen(x);
        return Pairs(w0 * x0, w1 * x1);
    }

    private static Vector128<int> Pairs(Vector128<short> p0, Vector128<short> p1)
    {
        var (a, b) = Vector128.Widen(p0);
        var (c, d) = Vector128.Widen(p1);
        return (a + b) + (c + d);
    }
}
