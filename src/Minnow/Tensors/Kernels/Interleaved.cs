using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// A Q4_0, Q5_0, Q8_0, Q4_K or Q6_K matrix's whole tiles of <see cref="Rows"/> rows, repacked so that a 512-bit vector
/// holds one row per 32-bit lane: four consecutive quant bytes of each of the sixteen rows. A kernel multiplies sixteen
/// rows at once against four activation bytes broadcast to every lane, and each lane's sum is its row's: no permutes
/// to gather blocks and no reduction across lanes, which were half the work of <see cref="Block32Dot512{TF}"/>
/// (llama.cpp repacks Q4_0 for its x86 kernels for the same reason). The 256-bit kernels read each vector as two
/// halves of eight rows.
/// <para>
/// The 32-element formats keep their bytes and each tile its offset: per block, vector v holds bytes 4v … 4v+3 of
/// each row's quants (4 vectors for Q4_0, whose low nibbles are values 4v … and high ones 16+4v …; 5 for Q5_0, its
/// fifth bits first, rearranged by <see cref="FifthBits"/>; 8 for Q8_0), then the sixteen half-float scales. A tile is
/// pairs of blocks — the two blocks' quants (so every vector load is 64-byte aligned), then their scales — and, when a
/// row has an odd number of blocks, the last block's quants and scales. The K-quants' layouts are
/// <see cref="InterleavedQ4_K"/>'s and <see cref="InterleavedQ6_K"/>'s.
/// </para>
/// <para>
/// Made on a matrix's first product and kept as long as the tensor (weights are immutable once multiplied); the map's
/// pages it was read from stay clean and reclaimable. A matrix's last rows that do not fill a tile are not copied and
/// run on the rows' own kernels, as does a matrix whose copy cannot be allocated or is not allowed (<see cref="Allow"/>,
/// <c>ModelLoadOptions.RepackWeights</c>).
/// </para>
/// </summary>
internal sealed unsafe class Interleaved
{
    public const int Rows = QuantizedMatMul.RowTile;

    private static readonly ConditionalWeakTable<Tensor, Interleaved> Copies = new();

    private readonly byte[] _buffer;
    private readonly byte* _start;
    private readonly long _tileBytes;

    /// <summary>Whole tiles; the matrix's last Rows mod 16 rows are not in the copy (nor any row, when no copy could be made).</summary>
    public int Tiles { get; }

    private Interleaved(Tensor w, WorkerPool pool)
    {
        bool superBlocks = w.DType is DType.Q4_K or DType.Q6_K;
        int blocks = w.Columns / w.DType.BlockSize(), quants = superBlocks ? 0 : (int)w.DType.ByteCount(32) - 2;
        long rowBytes = w.DType.ByteCount(w.Columns), sourceTile = Rows * rowBytes;
        _tileBytes = w.DType switch
        {
            DType.Q4_K => (long)blocks * InterleavedQ4_K.SuperBlock,
            DType.Q6_K => (long)blocks * InterleavedQ6_K.SuperBlock,
            _ => sourceTile,
        };
        _buffer = Allocate((long)(w.Rows / Rows) * _tileBytes);
        if (_buffer.Length == 0)
            return;
        Tiles = w.Rows / Rows;
        _start = (byte*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer)) + 63) & ~(nint)63);
        byte* rows = (byte*)w.Data;
        pool.For(Tiles, (start, end) =>
        {
            for (int t = start; t < end; t++)
            {
                if (w.DType == DType.Q4_K)
                    InterleavedQ4_K.Pack(rows + t * sourceTile, blocks, Tile(t));
                else if (w.DType == DType.Q6_K)
                    InterleavedQ6_K.Pack(rows + t * sourceTile, blocks, Tile(t));
                else
                    Pack(rows + t * sourceTile, blocks, quants, Tile(t), fifth: w.DType == DType.Q5_0);
            }
        });
    }

    /// <summary>
    /// A pinned buffer of <paramref name="bytes"/> (plus room to align it), or an empty one when it cannot be had — more
    /// than an array holds (a matrix of over 2 GB) or out of memory: then the matrix keeps to the rows' own kernels
    /// (<see cref="Tiles"/> 0) rather than failing the product.
    /// </summary>
    private static byte[] Allocate(long bytes)
    {
        if (bytes + 64 > Array.MaxLength)
            return [];
        try
        {
            return GC.AllocateUninitializedArray<byte>((int)bytes + 64, pinned: true);
        }
        catch (OutOfMemoryException)
        {
            return [];
        }
    }

    /// <summary>No copy: <see cref="Tiles"/> 0, so every row goes to the rows' own kernels.</summary>
    private Interleaved() => _buffer = [];

    private static readonly Interleaved None = new();

    /// <summary>
    /// Whether <paramref name="w"/> may have a copy (the default). Disallowed, it keeps to the rows' own kernels and a
    /// copy already made is dropped; allowed again, one is made on its next product.
    /// </summary>
    public static void Allow(Tensor w, bool allowed)
    {
        if (!allowed)
            Copies.AddOrUpdate(w, None);
        else if (Copies.TryGetValue(w, out var copy) && copy == None)
            Copies.Remove(w);
    }

    /// <summary>True when <paramref name="w"/> has a copy with at least one tile.</summary>
    public static bool Made(Tensor w) => Copies.TryGetValue(w, out var copy) && copy.Tiles > 0;

    /// <summary>The interleaved copy of <paramref name="w"/> (Q4_0, Q5_0, Q8_0, Q4_K or Q6_K), made on first use by <paramref name="pool"/>'s threads.</summary>
    public static Interleaved For(Tensor w, WorkerPool pool) => Copies.GetValue(w, t => new Interleaved(t, pool));

    public byte* Tile(int t) => _start + t * _tileBytes;

    /// <summary>Where block <paramref name="b"/>'s quants start in a tile of a format with <paramref name="quants"/> quant bytes per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int QuantsAt(int b, int quants) => (32 * quants + 64) * (b >> 1) + 16 * quants * (b & 1);

    /// <summary>Where block <paramref name="b"/>'s sixteen scales start in a tile of <paramref name="blocks"/> blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScalesAt(int b, int blocks, int quants) =>
        (32 * quants + 64) * (b >> 1) + ((b & 1) == 0 && b == blocks - 1 ? 16 * quants : 32 * quants + 32 * (b & 1));

    /// <summary>
    /// Repacks 16 consecutive rows of <paramref name="blocks"/> blocks (a half-float scale, then <paramref name="quants"/>
    /// bytes) into one tile; with <paramref name="fifth"/> (Q5_0) each block's first four bytes are its fifth bits, stored
    /// rearranged (<see cref="FifthBits"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(byte* rows, int blocks, int quants, byte* tile, bool fifth = false)
    {
        // Row by row, each read in order: taking the sixteen rows' blocks in turn read sixteen streams at once and ran
        // at ~0.6 GB/s from memory.
        for (int r = 0; r < Rows; r++)
            for (int b = 0; b < blocks; b++)
            {
                byte* to = tile + QuantsAt(b, quants);
                byte* block = rows + ((long)r * blocks + b) * (2 + quants);
                ((ushort*)(tile + ScalesAt(b, blocks, quants)))[r] = *(ushort*)block;
                for (int v = 0; v < quants / 4; v++)
                    *(uint*)(to + 64 * v + 4 * r) = *(uint*)(block + 2 + 4 * v);
                if (fifth)
                    *(uint*)(to + 4 * r) = FifthBits(*(uint*)(to + 4 * r));
            }
    }

    /// <summary>
    /// A Q5_0 block's fifth bits (bit i for value i) rearranged for <see cref="InterleavedQ5_0"/>: bit 8j + k is value
    /// 4k + j's and bit 8j + 4 + k value 16 + 4k + j's (j, k &lt; 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint FifthBits(uint qh)
    {
        if (!Bmi2.IsSupported)
            return FifthBitsPortable(qh);
        uint bits = 0;
        for (int j = 0; j < 4; j++)
            bits |= (Bmi2.ParallelBitExtract(qh, 0x1111u << j) | Bmi2.ParallelBitExtract(qh >> 16, 0x1111u << j) << 4) << (8 * j);
        return bits;
    }

    /// <summary><see cref="FifthBits"/> bit by bit (no BMI2).</summary>
    internal static uint FifthBitsPortable(uint qh)
    {
        uint bits = 0;
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++)
            {
                bits |= ((qh >> (4 * k + j)) & 1) << (8 * j + k);
                bits |= ((qh >> (16 + 4 * k + j)) & 1) << (8 * j + 4 + k);
            }
        return bits;
    }
}

/// <summary>What the kernels on <see cref="Interleaved"/> tiles share.</summary>
internal static unsafe class InterleavedTile
{
    /// <summary>Where block <paramref name="b"/>'s values 0–15 are in a grouped activation row (values 16–31: <see cref="HighAt"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LowAt(int b, int grouped) => b < grouped ? 32 * (b & ~7) + 128 * ((b >> 2) & 1) + 16 * (b & 3) : 32 * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HighAt(int b, int grouped) => b < grouped ? LowAt(b, grouped) + 64 : 32 * b + 16;

    /// <summary>Eight rows' half-float scales at <paramref name="at"/> as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scales256(byte* at) =>
        HalfTable.FiniteFromHighHalves(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)at), 16));

    /// <summary>The sixteen rows' half-float scales at <paramref name="at"/> as floats (see <see cref="HalfTable.FiniteFromHighHalves"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scales(byte* at)
    {
        var bits = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)at)), 16);
        return (Avx512F.ShiftRightArithmetic(bits, 3) & Vector512.Create(unchecked((int)0x8FFFE000))).AsSingle()
            * Vector512.Create((127 + 112) << 23).AsSingle();
    }
}

/// <summary>A kernel on <see cref="Interleaved"/> tiles.</summary>
internal unsafe interface IInterleavedDot
{
    /// <summary>y[r] = row r · a for a tile's sixteen rows (decode).</summary>
    static abstract void Tile(byte* tile, in ActivationRow a, float* y);

    /// <summary>y[k·stride + r] = row r · token k for four tokens (the prompt path).</summary>
    static abstract void Tile4(byte* tile, in ActivationRow a, float* y, int stride);
}
