using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Minnow.Compression.Quantization;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// How the kernels read each block format in place. A weight block is seen as unsigned small integers u (the stored
/// quants) with scales, so that a dot product with int8 activations becomes integer multiply-adds plus a little float
/// work per block. Byte layouts are documented on <see cref="Blocks32"/> and <see cref="KQuants"/>.
/// </summary>
internal interface IQuantFormat
{
    static abstract DType Type { get; }
}

/// <summary>
/// A 32-element format: element i is Scale·u_i + Offset, or Scale·q_i for the signed Q8_0. Dot with activations
/// x = d·q: Scale·d·Σu·q + Offset·(d·Σq), and d·Σq is precomputed per activation block.
/// </summary>
internal unsafe interface IBlock32 : IQuantFormat
{
    static abstract int Bytes { get; }
    /// <summary>True when the 32 values are signed bytes with no offset (Q8_0).</summary>
    static abstract bool Signed { get; }
    static abstract float Scale(byte* block);
    static abstract float Offset(byte* block);
    /// <summary>u of elements 0–15 and 16–31.</summary>
    static abstract void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high);
}

/// <summary>Half-float scales through a 65,536-entry table: .NET exposes no F16C conversion, and a table lookup is two loads.</summary>
internal static unsafe class HalfTable
{
    private static readonly float[] Values = Build();
    private static readonly float* Table = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Values));

    private static float[] Build()
    {
        var table = GC.AllocateUninitializedArray<float>(65536, pinned: true);
        for (int i = 0; i < table.Length; i++)
            table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float At(byte* p) => Table[*(ushort*)p];
}

internal static class Nibbles
{
    public static readonly Vector128<byte> Low = Vector128.Create((byte)0x0F);

    /// <summary>Byte j of 16 holds elements j (low nibble) and j+16 (high nibble).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Split(byte* qs, out Vector128<byte> low, out Vector128<byte> high)
    {
        var v = Vector128.Load(qs);
        low = v & Low;
        high = Vector128.ShiftRightLogical(v, 4) & Low;
    }

    /// <summary>Bits of <paramref name="bits"/> spread to 16 bytes, 0x10 where the bit is set (the fifth bit of Q5 quants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> FifthBits(uint bits)
    {
        var spread = Vector128.Shuffle(Vector128.CreateScalar(bits).AsByte(), Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        var mask = Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector128.Equals(spread & mask, mask) & Vector128.Create((byte)0x10);
    }
}

/// <summary>Q8_0: d, qs[32]; signed quants, no offset.</summary>
internal unsafe struct Q8_0Format : IBlock32
{
    public static DType Type => DType.Q8_0;
    public static int Bytes => 34;
    public static bool Signed => true;
    public static float Scale(byte* block) => HalfTable.At(block);
    public static float Offset(byte* block) => 0;
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        low = Vector128.Load(block + 2);
        high = Vector128.Load(block + 18);
    }
}

/// <summary>Q4_0: d, qs[16]; x = d·u − 8d.</summary>
internal unsafe struct Q4_0Format : IBlock32
{
    public static DType Type => DType.Q4_0;
    public static int Bytes => 18;
    public static bool Signed => false;
    public static float Scale(byte* block) => HalfTable.At(block);
    public static float Offset(byte* block) => -8 * HalfTable.At(block);
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high) => Nibbles.Split(block + 2, out low, out high);
}

/// <summary>Q4_1: d, m, qs[16]; x = d·u + m.</summary>
internal unsafe struct Q4_1Format : IBlock32
{
    public static DType Type => DType.Q4_1;
    public static int Bytes => 20;
    public static bool Signed => false;
    public static float Scale(byte* block) => HalfTable.At(block);
    public static float Offset(byte* block) => HalfTable.At(block + 2);
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high) => Nibbles.Split(block + 4, out low, out high);
}

/// <summary>Q5_0: d, qh, qs[16]; x = d·u − 16d.</summary>
internal unsafe struct Q5_0Format : IBlock32
{
    public static DType Type => DType.Q5_0;
    public static int Bytes => 22;
    public static bool Signed => false;
    public static float Scale(byte* block) => HalfTable.At(block);
    public static float Offset(byte* block) => -16 * HalfTable.At(block);
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        Nibbles.Split(block + 6, out low, out high);
        uint qh = *(uint*)(block + 2);
        low |= Nibbles.FifthBits(qh);
        high |= Nibbles.FifthBits(qh >> 16);
    }
}

/// <summary>Q5_1: d, m, qh, qs[16]; x = d·u + m.</summary>
internal unsafe struct Q5_1Format : IBlock32
{
    public static DType Type => DType.Q5_1;
    public static int Bytes => 24;
    public static bool Signed => false;
    public static float Scale(byte* block) => HalfTable.At(block);
    public static float Offset(byte* block) => HalfTable.At(block + 2);
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        Nibbles.Split(block + 8, out low, out high);
        uint qh = *(uint*)(block + 4);
        low |= Nibbles.FifthBits(qh);
        high |= Nibbles.FifthBits(qh >> 16);
    }
}
