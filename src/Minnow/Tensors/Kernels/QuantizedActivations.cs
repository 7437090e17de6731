using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// Activations quantized to int8 for the integer dot products, as ggml does before a quantized matmul: per block of
/// <see cref="BlockSize"/> values (32 for the 32-element weight formats, like ggml's Q8_0/Q8_1; 256 for K-quants,
/// like Q8_K) a scale d = max|x|/127 and q = round(x/d), ties to even. Alongside: per 32-block Σq and d·Σq (the
/// 32-element formats' zero points and mins multiply them) and per 16 values Σq (the K-quants' sub-block offsets).
/// Buffers grow on demand and are reused, one set per thread.
/// <para>
/// <see cref="Grouped"/> reorders the values of each run of eight 32-blocks for the 256-bit kernels, which pair two
/// weight blocks per vector (one per 128-bit half): per four blocks, first their values 0–15, then their values 16–31,
/// so the activations for a pair's low and high halves are plain loads. A row's last (blocks mod 8) blocks stay in order.
/// </para>
/// </summary>
internal sealed unsafe class QuantizedActivations
{
    public int BlockSize { get; private set; }
    public int Length { get; private set; }
    public int Tokens { get; private set; }
    /// <summary>
    /// The <see cref="Grouped"/> layout; its tokens also carry an <see cref="ActivationPeriod"/>, so kernels can take a
    /// tile of rows as one stream of groups of eight blocks.
    /// </summary>
    public bool Grouped { get; private set; }

    private byte[] _values = [];
    private float[] _scales = [];
    private float[] _blockSums = [];
    private int[] _qSums = [];
    private short[] _sums16 = [];

    /// <summary>q of token t: Length values.</summary>
    private sbyte* Values(int t) => Aligned(_values) + (long)t * Length;

    /// <summary>The first element of a pinned buffer.</summary>
    private static T* Start<T>(T[] buffer) where T : unmanaged => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));

    /// <summary>
    /// The first 64-byte boundary in a pinned buffer allocated 64 bytes long: the 512-bit kernels load the values in
    /// whole 64-byte vectors, and an array's own start is only 8- or 16-byte aligned (loads split across cache lines).
    /// </summary>
    private static sbyte* Aligned(byte[] buffer) => (sbyte*)(((nint)Start(buffer) + 63) & ~(nint)63);

    /// <summary>d per block of token t.</summary>
    private float* Scales(int t) => Start(_scales) + (long)t * (Length / BlockSize);

    /// <summary>d·Σq per block of token t (32-element blocks only).</summary>
    private float* BlockSums(int t) => Start(_blockSums) + (long)t * (Length / BlockSize);

    /// <summary>Σq per block of token t (32-element blocks only).</summary>
    private int* QSums(int t) => Start(_qSums) + (long)t * (Length / BlockSize);

    /// <summary>Σq per 16 values of token t.</summary>
    private short* Sums16(int t) => Start(_sums16) + (long)t * (Length / 16);

    /// <summary>Token t's pointers, computed once so the kernels' inner loops need no arithmetic to find them.</summary>
    public ActivationRow Row(int t) => _first.Next(t);

    /// <summary>Token 0's pointers, set by <see cref="Prepare"/>: <see cref="Row"/> is then arithmetic only (a matmul asks per tile).</summary>
    private ActivationRow _first;

    // The periodic copies (see Period), one after the other, when a row is not whole groups of eight blocks.
    private byte[] _periodValues = [];
    private float[] _periodScales = [];
    private float[] _periodBlockSums = [];
    private int[] _periodQSums = [];

    /// <summary>Blocks in one period: the row's blocks times the rows it takes to end on a whole group of eight.</summary>
    private int PeriodBlocks => Length / BlockSize * (8 >> Math.Min(BitOperations.TrailingZeroCount(Length / BlockSize), 3));

    /// <summary>
    /// Token t repeated over a tile of rows (<see cref="ActivationPeriod"/>), on the grouped layout. When a row is whole
    /// groups of eight blocks that is the token itself; otherwise a copy repeats it over 8 / gcd(blocks, 8) rows
    /// (SmolLM2's 18-block rows: 72 blocks, 9 groups), so the kernel needs no per-row tail.
    /// </summary>
    private ActivationPeriod Period(int t)
    {
        if (!Grouped)
            return default;
        int blocks = Length / BlockSize;
        if (blocks % 8 == 0)
            return new(Values(t), Scales(t), BlockSums(t), QSums(t), blocks / 8);
        long at = (long)t * PeriodBlocks;
        return new(Aligned(_periodValues) + at * 32, Start(_periodScales) + at, Start(_periodBlockSums) + at, Start(_periodQSums) + at, PeriodBlocks / 8);
    }

    /// <summary>Writes token t's periodic copy: stream block j is the token's block j mod blocks, in grouped order.</summary>
    private void WritePeriod(int t)
    {
        int blocks = Length / BlockSize, grouped = blocks / 8 * 8;
        var period = Period(t);
        sbyte* source = Values(t);
        float* scales = Scales(t), blockSums = BlockSums(t);
        int* qSums = QSums(t);
        for (int j = 0; j < PeriodBlocks; j += blocks)
            for (int b = 0; b < blocks; b++)
            {
                int from = b < grouped ? GroupedOffset(b * 32) : b * 32, to = GroupedOffset((j + b) * 32);
                Vector128.Load(source + from).Store(period.Values + to);
                Vector128.Load(source + (b < grouped ? from + 64 : from + 16)).Store(period.Values + to + 64);
                period.Scales[j + b] = scales[b];
                period.BlockSums[j + b] = blockSums[b];
                period.QSums[j + b] = qSums[b];
            }
    }

    private float* _source;

    /// <summary>
    /// Sizes the buffers for <paramref name="tokens"/> rows of <paramref name="length"/> values (a multiple of
    /// <paramref name="blockSize"/>) read from <paramref name="source"/>, which must stay pinned until quantized.
    /// </summary>
    public void Prepare(float* source, int tokens, int length, int blockSize, bool grouped = false)
    {
        _source = source;
        Grouped = grouped && blockSize == 32;
        BlockSize = blockSize;
        Length = length;
        Tokens = tokens;
        long values = (long)tokens * length;
        if (_values.Length < values + 64)
        {
            _values = GC.AllocateUninitializedArray<byte>(checked((int)values + 64), pinned: true);
            _scales = GC.AllocateUninitializedArray<float>((int)(values / 32), pinned: true);
            _blockSums = GC.AllocateUninitializedArray<float>((int)(values / 32), pinned: true);
            _qSums = GC.AllocateUninitializedArray<int>((int)(values / 32), pinned: true);
            _sums16 = GC.AllocateUninitializedArray<short>((int)(values / 16), pinned: true);
        }
        if (Grouped && length / blockSize % 8 != 0)
        {
            long periodBlocks = (long)tokens * PeriodBlocks;
            if (_periodScales.Length < periodBlocks)
            {
                _periodValues = GC.AllocateUninitializedArray<byte>(checked((int)(periodBlocks * 32) + 64), pinned: true);
                _periodScales = GC.AllocateUninitializedArray<float>((int)periodBlocks, pinned: true);
                _periodBlockSums = GC.AllocateUninitializedArray<float>((int)periodBlocks, pinned: true);
                _periodQSums = GC.AllocateUninitializedArray<int>((int)periodBlocks, pinned: true);
            }
        }
        _first = new(Values(0), Scales(0), BlockSums(0), QSums(0), Sums16(0), Length, Length / BlockSize, Period(0));
    }

    /// <summary>Quantizes tokens [start, end) of the source rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Quantize(int start, int end)
    {
        int blocks = Length / BlockSize, grouped = Grouped ? Length / 256 * 256 : 0;
        for (int t = start; t < end; t++)
        {
            float* row = _source + (long)t * Length;
            sbyte* q = Values(t);
            float* scales = Scales(t);
            short* sums = Sums16(t);
            for (int b = 0; b < blocks; b++)
            {
                float* x = row + b * BlockSize;
                var max = Vector128<float>.Zero;
                for (int i = 0; i < BlockSize; i += 4)
                    max = Vector128.Max(max, Vector128.Abs(Vector128.Load(x + i)));
                float d = Math.Max(Math.Max(max[0], max[1]), Math.Max(max[2], max[3])) / 127;
                var id = Vector128.Create(d == 0 ? 0 : 1 / d);
                for (int i = b * BlockSize; i < (b + 1) * BlockSize; i += 16)
                    sums[i / 16] = Round16(row + i, id, q + (i < grouped ? GroupedOffset(i) : i));
                scales[b] = d;
            }
            if (BlockSize == 32)
                for (int b = 0; b < blocks; b++)
                {
                    QSums(t)[b] = sums[2 * b] + sums[2 * b + 1];
                    BlockSums(t)[b] = scales[b] * QSums(t)[b];
                }
            if (Grouped && blocks % 8 != 0)
                WritePeriod(t);
        }
    }

    /// <summary>Where values i … i+15 (i a multiple of 16 inside a run of eight blocks) go in the <see cref="Grouped"/> layout.</summary>
    private static int GroupedOffset(int i)
    {
        int group = i & ~255, block = (i & 255) >> 5, half = (i >> 4) & 1;
        return group + (block >> 2) * 128 + half * 64 + (block & 3) * 16;
    }

    /// <summary>Writes round(x·id) for 16 values to <paramref name="q"/>, ties to even; returns their sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static short Round16(float* x, Vector128<float> id, sbyte* q)
    {
        var a = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x) * id));
        var b = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 4) * id));
        var c = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 8) * id));
        var e = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 12) * id));
        Vector128.Narrow(Vector128.Narrow(a, b), Vector128.Narrow(c, e)).Store(q);
        return (short)Vector128.Sum((a + b) + (c + e));
    }
}

/// <summary>
/// One token's activations repeated over consecutive weight rows, so that a kernel can run a tile of rows as one stream
/// of groups of eight blocks whatever the row length (see <see cref="QuantizedActivations.Grouped"/>): the values of
/// <see cref="Groups"/> groups in <see cref="QuantizedActivations.Grouped"/> order, and per block d, d·Σq and Σq. Group
/// g of a stream of whole rows takes group g mod <see cref="Groups"/> of these. <see cref="Groups"/> is 0 when none.
/// </summary>
internal readonly unsafe struct ActivationPeriod(sbyte* values, float* scales, float* blockSums, int* qSums, int groups)
{
    public readonly sbyte* Values = values;
    public readonly float* Scales = scales;
    public readonly float* BlockSums = blockSums;
    public readonly int* QSums = qSums;
    /// <summary>Groups of eight blocks in one period: the row's blocks times the rows it takes to end on a whole group, over 8.</summary>
    public readonly int Groups = groups;

    /// <summary>The period of the token <paramref name="k"/> places later (periods follow one another like the tokens).</summary>
    public ActivationPeriod Next(int k) =>
        Groups == 0 ? default : new(Values + k * 256 * Groups, Scales + k * 8 * Groups, BlockSums + k * 8 * Groups, QSums + k * 8 * Groups, Groups);
}

/// <summary>One token's quantized activations (see <see cref="QuantizedActivations"/>); the next tokens follow at fixed strides.</summary>
internal readonly unsafe struct ActivationRow(sbyte* values, float* scales, float* blockSums, int* qSums, short* sums16, int length, int blocks,
    ActivationPeriod period = default)
{
    public readonly sbyte* Values = values;
    public readonly float* Scales = scales;
    public readonly float* BlockSums = blockSums;
    public readonly int* QSums = qSums;
    public readonly short* Sums16 = sums16;
    /// <summary>Values per token.</summary>
    public readonly int Length = length;
    /// <summary>Activation blocks per token.</summary>
    public readonly int Blocks = blocks;
    /// <summary>This token's activations repeated for a tile of rows, when it has them (decoded tokens on the grouped layout).</summary>
    public readonly ActivationPeriod Period = period;

    /// <summary>The token <paramref name="k"/> places later.</summary>
    public ActivationRow Next(int k) =>
        new(Values + k * Length, Scales + k * Blocks, BlockSums + k * Blocks, QSums + k * Blocks, Sums16 + k * (Length / 16), Length, Blocks, Period.Next(k));
}
