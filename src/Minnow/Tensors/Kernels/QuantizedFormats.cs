using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
/// A 32-element format: element i is d·(u_i − ZeroPoint) (+ m when <see cref="HasMin"/>), or d·q_i for the signed
/// Q8_0. With activations x = d_x·q: d·d_x·(Σu·q − ZeroPoint·Σq) + m·(d_x·Σq), where Σq and d_x·Σq are precomputed
/// per activation block. d is the half float at the block's start, m the one after it.
/// </summary>
internal unsafe interface IBlock32 : IQuantFormat
{
    static abstract int Bytes { get; }
    /// <summary>True when the 32 values are signed bytes (Q8_0).</summary>
    static abstract bool Signed { get; }
    static abstract int ZeroPoint { get; }
    static abstract bool HasMin { get; }
    /// <summary>u of elements 0–15 and 16–31.</summary>
    static abstract void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high);
    /// <summary>u of two blocks side by side: low = [a 0–15 | b 0–15], high = [a 16–31 | b 16–31].</summary>
    static abstract void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high);
}

/// <summary>
/// Half floats to floats without F16C, which .NET does not expose: single values through a 65,536-entry table (two
/// loads), eight at a time with integer arithmetic.
/// </summary>
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

    /// <summary>
    /// Finite half floats held in the top 16 bits of each lane (whatever the low 16 bits hold) to floats, exactly: an
    /// arithmetic shift by 3 puts sign, exponent and mantissa at float positions (the sign copied over the top three
    /// exponent bits, which the mask clears, as it clears the low bits), and 2^112 re-biases the exponent, which also
    /// makes subnormals exact. Three operations (a conversion that also kept infinities and NaNs took eight, and
    /// measured 2–6 % slower in the 256-bit kernels); scales are never infinite or NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FiniteFromHighHalves(Vector256<int> bits) =>
        (Avx2.ShiftRightArithmetic(bits, 3) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create((127 + 112) << 23).AsSingle();
}

internal static unsafe class Nibbles
{
    private static Vector128<byte> Low { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector128.Create((byte)0x0F); }

    /// <summary>Byte j of 16 holds elements j (low nibble) and j+16 (high nibble).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Split(byte* qs, out Vector128<byte> low, out Vector128<byte> high)
    {
        var v = Vector128.Load(qs);
        low = v & Low;
        high = Vector128.ShiftRightLogical(v, 4) & Low;
    }

    /// <summary><see cref="Split"/> of two blocks' nibbles at once, one per 128-bit half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SplitPair(byte* qsA, byte* qsB, out Vector256<byte> low, out Vector256<byte> high)
    {
        var v = Vector256.Create(Vector128.Load(qsA), Vector128.Load(qsB));
        var mask = Vector256.Create((byte)0x0F);
        low = v & mask;
        high = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
    }

    /// <summary>
    /// <see cref="Split"/> of four blocks' nibbles already gathered into one vector (block k's 16 bytes at byte 16k):
    /// low = their elements 0–15, high = 16–31. <paramref name="mask"/> is 0x0F in every byte (a loop constant, see
    /// <see cref="Loop512"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SplitFour(Vector512<byte> v, Vector512<byte> mask, out Vector512<byte> low, out Vector512<byte> high)
    {
        low = v & mask;
        high = Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
    }

    private static Vector128<byte> Spread { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); }
    private static Vector128<byte> BitMask { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128); }

    /// <summary>Bits of <paramref name="bits"/> spread to 16 bytes, 0x10 where the bit is set (the fifth bit of Q5 quants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> FifthBits(uint bits)
    {
        var spread = Vector128.Shuffle(Vector128.CreateScalar(bits).AsByte(), Spread);
        return Vector128.Equals(spread & BitMask, BitMask) & Vector128.Create((byte)0x10);
    }

    /// <summary>
    /// The fifth bits of two Q5 blocks laid out as <see cref="SplitPair"/>'s halves: low = bits 0–15 of
    /// <paramref name="a"/> | of <paramref name="b"/>, high = bits 16–31 of each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FifthBitsPair(uint a, uint b, out Vector256<byte> low, out Vector256<byte> high)
    {
        var bits = Vector256.Create(Vector128.CreateScalar(a), Vector128.CreateScalar(b)).AsByte();
        var mask = Vector256.Create(BitMask);
        var five = Vector256.Create((byte)0x10);
        // vpshufb picks within each 128-bit half, so each block's bytes 0–1 (2–3) spread over its own half.
        low = Vector256.Equals(Avx2.Shuffle(bits, Vector256.Create(Spread)) & mask, mask) & five;
        high = Vector256.Equals(Avx2.Shuffle(bits, Vector256.Create(Spread + Vector128.Create((byte)2))) & mask, mask) & five;
    }
}

/// <summary>Q8_0: d, qs[32]; signed quants.</summary>
internal unsafe partial struct Q8_0Format : IBlock32
{
    public static DType Type => DType.Q8_0;
    public static int Bytes => 34;
    public static bool Signed => true;
    public static int ZeroPoint => 0;
    public static bool HasMin => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        low = Vector128.Load(block + 2);
        high = Vector128.Load(block + 18);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high)
    {
        low = Vector256.Create(Vector128.Load(a + 2), Vector128.Load(b + 2));
        high = Vector256.Create(Vector128.Load(a + 18), Vector128.Load(b + 18));
    }
}

/// <summary>Q4_0: d, qs[16]; x = d·(u − 8).</summary>
internal unsafe partial struct Q4_0Format : IBlock32
{
    public static DType Type => DType.Q4_0;
    public static int Bytes => 18;
    public static bool Signed => false;
    public static int ZeroPoint => 8;
    public static bool HasMin => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high) => Nibbles.Split(block + 2, out low, out high);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high) => Nibbles.SplitPair(a + 2, b + 2, out low, out high);
}

/// <summary>Q4_1: d, m, qs[16]; x = d·u + m.</summary>
internal unsafe struct Q4_1Format : IBlock32
{
    public static DType Type => DType.Q4_1;
    public static int Bytes => 20;
    public static bool Signed => false;
    public static int ZeroPoint => 0;
    public static bool HasMin => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high) => Nibbles.Split(block + 4, out low, out high);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high) => Nibbles.SplitPair(a + 4, b + 4, out low, out high);
}

/// <summary>Q5_0: d, qh, qs[16]; x = d·(u − 16).</summary>
internal unsafe partial struct Q5_0Format : IBlock32
{
    public static DType Type => DType.Q5_0;
    public static int Bytes => 22;
    public static bool Signed => false;
    public static int ZeroPoint => 16;
    public static bool HasMin => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        Nibbles.Split(block + 6, out low, out high);
        uint qh = *(uint*)(block + 2);
        low |= Nibbles.FifthBits(qh);
        high |= Nibbles.FifthBits(qh >> 16);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high)
    {
        Nibbles.SplitPair(a + 6, b + 6, out low, out high);
        Nibbles.FifthBitsPair(*(uint*)(a + 2), *(uint*)(b + 2), out var fifthLow, out var fifthHigh);
        low |= fifthLow;
        high |= fifthHigh;
    }
}

/// <summary>Q5_1: d, m, qh, qs[16]; x = d·u + m.</summary>
internal unsafe struct Q5_1Format : IBlock32
{
    public static DType Type => DType.Q5_1;
    public static int Bytes => 24;
    public static bool Signed => false;
    public static int ZeroPoint => 0;
    public static bool HasMin => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(byte* block, out Vector128<byte> low, out Vector128<byte> high)
    {
        Nibbles.Split(block + 8, out low, out high);
        uint qh = *(uint*)(block + 4);
        low |= Nibbles.FifthBits(qh);
        high |= Nibbles.FifthBits(qh >> 16);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pair(byte* a, byte* b, out Vector256<byte> low, out Vector256<byte> high)
    {
        Nibbles.SplitPair(a + 8, b + 8, out low, out high);
        Nibbles.FifthBitsPair(*(uint*)(a + 4), *(uint*)(b + 4), out var fifthLow, out var fifthHigh);
        low |= fifthLow;
        high |= fifthHigh;
    }
}
