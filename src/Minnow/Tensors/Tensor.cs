using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Minnow.Tensors;

/// <summary>
/// A dense, row-major tensor: a shape, a <see cref="DType"/> and a pointer to its bytes. The bytes live either in
/// pinned managed memory (owned) or inside a <see cref="MappedFile"/> (a view; the tensor keeps the map alive).
/// Weights are stored [out, in] (PyTorch's Linear layout), so a matrix-vector product reads rows contiguously.
/// </summary>
public sealed unsafe class Tensor
{
    private readonly object? _owner;

    public string Name { get; }
    public DType DType { get; }
    public int[] Shape { get; }
    public long ElementCount { get; }
    public long ByteLength { get; }

    /// <summary>Address of the first byte; stable for the tensor's lifetime (pinned or mapped).</summary>
    public nint Data { get; }

    private Tensor(string name, DType dtype, int[] shape, nint data, object? owner)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new InvalidInputException($"tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}]");
            n = checked(n * d);
        }
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = n;
        ByteLength = dtype.ByteCount(n);
        Data = data;
        _owner = owner;
    }

    /// <summary>A new zero-filled F32 tensor in pinned managed memory.</summary>
    public static Tensor Zeros(string name, params int[] shape) => Allocate(name, DType.F32, shape);

    /// <summary>A new zero-filled tensor of any type in pinned managed memory.</summary>
    public static Tensor Allocate(string name, DType dtype, params int[] shape)
    {
        long elements = 1;
        foreach (int d in shape) elements = checked(elements * Math.Max(d, 0));
        long bytes = dtype.ByteCount(elements);
        var buffer = GC.AllocateArray<byte>(checked((int)Math.Max(bytes, 1)), pinned: true);
        return new Tensor(name, dtype, shape, (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer)), buffer);
    }

    /// <summary>An F32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromFloats(string name, ReadOnlySpan<float> values, params int[] shape)
    {
        var t = Zeros(name, shape);
        if (values.Length != t.ElementCount)
            throw new InvalidInputException($"tensor '{name}': {values.Length} values do not fill shape [{string.Join(", ", shape)}]");
        values.CopyTo(t.AsFloats());
        return t;
    }

    /// <summary>A view of bytes inside a memory-mapped file (no copy).</summary>
    public static Tensor View(string name, DType dtype, int[] shape, MappedFile file, long offset)
    {
        var t = new Tensor(name, dtype, shape, (nint)(file.Pointer + offset), file);
        if (offset < 0 || offset + t.ByteLength > file.Length)
            throw new ModelFormatException(file.Path, $"tensor '{name}' ({t.ByteLength} bytes at offset {offset}) runs past the end of the file ({file.Length} bytes)");
        return t;
    }

    /// <summary>Rows [start, start+count) of a 2-D tensor as a view sharing this tensor's memory (e.g. q/k/v of a fused qkv matrix).</summary>
    public Tensor RowSlice(string name, int start, int count)
    {
        if (Shape.Length != 2 || start < 0 || count < 0 || start + count > Shape[0])
            throw new InvalidInputException($"rows {start}..{start + count} are outside tensor '{Name}' [{string.Join(", ", Shape)}]");
        long rowBytes = DType.ByteCount(Shape[1]);
        return new Tensor(name, DType, [count, Shape[1]], Data + (nint)(start * rowBytes), _owner ?? this);
    }

    /// <summary>
    /// Elements [offset, offset + product(shape)) of this tensor, flattened, as a view with its own name and shape (no copy):
    /// e.g. one parameter inside a training model's single flat buffer.
    /// </summary>
    public Tensor Slice(string name, long offset, params int[] shape)
    {
        if (DType.BlockSize() != 1)
            throw new InvalidInputException($"cannot slice '{Name}': {DType} is stored in blocks");
        var t = new Tensor(name, DType, shape, Data + (nint)DType.ByteCount(offset), _owner ?? this);
        if (offset < 0 || offset + t.ElementCount > ElementCount)
            throw new InvalidInputException($"elements {offset}..{offset + t.ElementCount} are outside tensor '{Name}' ({ElementCount} elements)");
        return t;
    }

    /// <summary>The same bytes under another name (no copy), e.g. to write a tensor under a file format's naming.</summary>
    public Tensor WithName(string name) => new(name, DType, Shape, Data, _owner ?? this);

    /// <summary>The same bytes under another shape with the same element count.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var t = new Tensor(Name, DType, shape, Data, _owner ?? this);
        if (t.ElementCount != ElementCount)
            throw new InvalidInputException($"cannot reshape '{Name}' [{string.Join(", ", Shape)}] to [{string.Join(", ", shape)}]");
        return t;
    }

    /// <summary>Number of rows of a matrix (first dimension), 1 for a vector.</summary>
    public int Rows => Shape.Length >= 2 ? Shape[0] : 1;

    /// <summary>Length of a row (last dimension).</summary>
    public int Columns => Shape.Length == 0 ? 1 : Shape[^1];

    public Span<float> AsFloats()
    {
        if (DType != DType.F32)
            throw new InvalidOperationException($"tensor '{Name}' is {DType}, not F32");
        return new Span<float>((void*)Data, checked((int)ElementCount));
    }

    public ReadOnlySpan<byte> AsBytes() => new((void*)Data, checked((int)ByteLength));

    /// <summary>The bytes as elements of <typeparamref name="T"/> (e.g. Half, ushort for BF16). Writing is only valid for tensors this process owns, not views of a read-only map.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Data, checked((int)(ByteLength / sizeof(T))));

    public float* FloatPointer => DType == DType.F32 ? (float*)Data : throw new InvalidOperationException($"tensor '{Name}' is {DType}, not F32");

    /// <summary>Row <paramref name="row"/> of an F32 matrix.</summary>
    public Span<float> Row(int row) => new((float*)Data + (long)row * Columns, Columns);

    public override string ToString() => $"{Name} {DType} [{string.Join(", ", Shape)}]";
}
