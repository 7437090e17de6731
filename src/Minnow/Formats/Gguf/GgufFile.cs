using System.Buffers.Binary;
using System.Text;
using Minnow.Tensors;

namespace Minnow.Formats.Gguf;

/// <summary>GGUF metadata value types (gguf_type).</summary>
public enum GgufType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>A metadata value: its GGUF type and the .NET value (arrays as typed .NET arrays, e.g. string[], float[], int[]).</summary>
public sealed record GgufValue(GgufType Type, object Value, GgufType ElementType = GgufType.UInt8)
{
    public static GgufValue Of(string s) => new(GgufType.String, s);
    public static GgufValue Of(uint v) => new(GgufType.UInt32, v);
    public static GgufValue Of(int v) => new(GgufType.Int32, v);
    public static GgufValue Of(float v) => new(GgufType.Float32, v);
    public static GgufValue Of(bool v) => new(GgufType.Bool, v);
    public static GgufValue Of(string[] v) => new(GgufType.Array, v, GgufType.String);
    public static GgufValue Of(float[] v) => new(GgufType.Array, v, GgufType.Float32);
    public static GgufValue Of(int[] v) => new(GgufType.Array, v, GgufType.Int32);
}

/// <summary>One tensor's entry: its name, type, shape as [rows, columns] (GGUF lists dimensions innermost first) and data offset.</summary>
public sealed record GgufTensorInfo(string Name, DType DType, int[] Shape, long Offset, long ByteLength);

/// <summary>
/// A memory-mapped GGUF file (v2/v3; ggml's docs/gguf.md): magic "GGUF", version, tensor and key-value counts, the
/// typed key-values, the tensor infos, then the tensor data at <c>general.alignment</c> (default 32). Every count,
/// length and offset is checked against the file before it is used, so a corrupted file is a
/// <see cref="ModelFormatException"/> naming the file, the offset and the field, never an out-of-range read or an
/// allocation of an absurd size. Tensors are views into the map; quantized blocks are used in place.
/// </summary>
public sealed class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _tensors;

    public string Path => _file.Path;
    public uint Version { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>The key-values in file order (for writing a file back unchanged).</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> MetadataInOrder { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long DataStart { get; }
    public int Alignment { get; }

    private GgufFile(MappedFile file, uint version, List<KeyValuePair<string, GgufValue>> metadata, List<GgufTensorInfo> tensors, long dataStart, int alignment)
    {
        _file = file;
        Version = version;
        MetadataInOrder = metadata;
        Metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        Tensors = tensors;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        DataStart = dataStart;
        Alignment = alignment;
    }

    public static GgufFile Open(string path)
    {
        var file = new MappedFile(path);
        try
        {
            return Read(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public GgufTensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new ModelFormatException(Path, $"no tensor named '{name}'");

    /// <summary>The named tensor as a view into the map (no copy).</summary>
    public Tensor Tensor(string name)
    {
        var info = Info(name);
        return Minnow.Tensors.Tensor.View(name, info.DType, info.Shape, _file, DataStart + info.Offset);
    }

    public Tensor? TryTensor(string name) => _tensors.ContainsKey(name) ? Tensor(name) : null;

    public void Dispose() => _file.Dispose();

    // Typed metadata access; a value of the wrong type is an error naming the key.

    public GgufValue? Get(string key) => Metadata.TryGetValue(key, out var v) ? v : null;

    public string? GetString(string key) => Get(key) switch
    {
        null => null,
        { Type: GgufType.String, Value: string s } => s,
        var v => throw WrongType(key, v, "a string"),
    };

    /// <summary>Any integer type, as long.</summary>
    public long? GetInteger(string key) => Get(key) switch
    {
        null => null,
        { Value: byte or sbyte or ushort or short or uint or int or long } v => Convert.ToInt64(v.Value),
        { Value: ulong u } when u <= long.MaxValue => (long)u,
        var v => throw WrongType(key, v, "an integer"),
    };

    /// <summary>An integer key that must fit an int.</summary>
    public int? GetInt(string key) => GetInteger(key) switch
    {
        null => null,
        long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
        long l => throw new ModelFormatException(Path, $"metadata '{key}' = {l} is out of range"),
    };

    public double? GetFloat(string key) => Get(key) switch
    {
        null => null,
        { Value: float f } => f,
        { Value: double d } => d,
        { Value: byte or sbyte or ushort or short or uint or int or long or ulong } v => Convert.ToDouble(v.Value),
        var v => throw WrongType(key, v, "a number"),
    };

    public bool? GetBool(string key) => Get(key) switch
    {
        null => null,
        { Value: bool b } => b,
        var v => throw WrongType(key, v, "a bool"),
    };

    public T[]? GetArray<T>(string key) => Get(key) switch
    {
        null => null,
        { Value: T[] array } => array,
        var v => throw WrongType(key, v, $"an array of {typeof(T).Name}"),
    };

    /// <summary>An array of any integer type, as ints.</summary>
    public int[]? GetIntArray(string key) => Get(key) switch
    {
        null => null,
        { Value: int[] a } => a,
        { Value: System.Array a } v when v.ElementType is not (GgufType.String or GgufType.Float32 or GgufType.Float64 or GgufType.Bool or GgufType.Array)
            => a.Cast<object>().Select(x => Convert.ToInt32(x)).ToArray(),
        var v => throw WrongType(key, v, "an integer array"),
    };

    private ModelFormatException WrongType(string key, GgufValue v, string expected) =>
        new(Path, $"metadata '{key}' is {v.Type}{(v.Type == GgufType.Array ? $" of {v.ElementType}" : "")}, expected {expected}");

    private static GgufFile Read(MappedFile file)
    {
        var r = new Reader(file);
        uint magic = r.U32("magic");
        if (magic != Magic)
            throw new ModelFormatException(file.Path, $"not a GGUF file: magic 0x{magic:X8} at offset 0 (expected \"GGUF\")");
        uint version = r.U32("version");
        if (version is not (2 or 3))
            throw new ModelFormatException(file.Path, $"unsupported GGUF version {version} (Minnow reads versions 2 and 3)");
        long tensorCount = r.Count("tensor_count", 8 + 4 + 8 + 4 + 8);
        long kvCount = r.Count("metadata_kv_count", 8 + 4 + 1);

        var metadata = new List<KeyValuePair<string, GgufValue>>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            long at = r.Offset;
            string key = r.String("metadata key");
            var type = (GgufType)r.U32($"type of '{key}'");
            var value = r.Value(type, key, depth: 0);
            if (!keys.Add(key))
                throw new ModelFormatException(file.Path, $"metadata key '{key}' at offset {at} appears twice");
            metadata.Add(new(key, value));
        }

        int alignment = DefaultAlignment;
        if (metadata.FirstOrDefault(kv => kv.Key == "general.alignment").Value is { } a)
        {
            long alignValue = a.Value is uint u ? u : a.Value is ulong ul ? (long)Math.Min(ul, int.MaxValue) : a.Value is int s ? s : -1;
            if (alignValue <= 0 || alignValue > 1 << 20 || (alignValue & (alignValue - 1)) != 0)
                throw new ModelFormatException(file.Path, $"general.alignment {a.Value} is not a power of two");
            alignment = (int)alignValue;
        }

        var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 1 << 16));
        var infos = new List<(string Name, int[] Shape, DType Type, ulong Offset, long At)>();
        for (long i = 0; i < tensorCount; i++)
        {
            long at = r.Offset;
            string name = r.String("tensor name");
            uint dims = r.U32($"dimension count of '{name}'");
            if (dims is 0 or > 4)
                throw new ModelFormatException(file.Path, $"tensor '{name}' at offset {at} has {dims} dimensions (GGUF allows 1 to 4)");
            var ne = new long[dims];
            for (int d = 0; d < dims; d++)
            {
                ulong n = r.U64($"dimension {d} of '{name}'");
                if (n == 0 || n > int.MaxValue)
                    throw new ModelFormatException(file.Path, $"tensor '{name}' at offset {at}: dimension {d} is {n}");
                ne[d] = (long)n;
            }
            uint rawType = r.U32($"type of '{name}'");
            var dtype = TypeOf(rawType) ?? throw new ModelFormatException(file.Path, $"tensor '{name}' has unsupported tensor type {TypeName(rawType)} (id {rawType})");
            ulong offset = r.U64($"offset of '{name}'");
            // GGUF lists dimensions innermost first; Minnow's shapes are outermost first (rows, columns).
            var shape = ne.Reverse().Select(d => (int)d).ToArray();
            infos.Add((name, shape, dtype, offset, at));
        }
        long dataStart = (r.Offset + alignment - 1) / alignment * alignment;
        if (dataStart > file.Length && tensorCount > 0)
            throw new ModelFormatException(file.Path, $"tensor data should start at offset {dataStart}, past the end of the file ({file.Length} bytes)");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape, dtype, offset, at) in infos)
        {
            if (!names.Add(name))
                throw new ModelFormatException(file.Path, $"tensor '{name}' appears twice");
            long elements = 1;
            foreach (int d in shape)
                elements = checked(elements * d);
            if (shape[^1] % dtype.BlockSize() != 0)
                throw new ModelFormatException(file.Path, $"tensor '{name}': row length {shape[^1]} is not a multiple of the {dtype} block size {dtype.BlockSize()}");
            long bytes = dtype.ByteCount(elements);
            if (offset % (ulong)alignment != 0)
                throw new ModelFormatException(file.Path, $"tensor '{name}': data offset {offset} is not aligned to {alignment}");
            if (offset > (ulong)file.Length || dataStart + (long)offset + bytes > file.Length)
                throw new ModelFormatException(file.Path, $"tensor '{name}' ({bytes} bytes at data offset {offset}) runs past the end of the file ({file.Length} bytes; truncated?)");
            tensors.Add(new GgufTensorInfo(name, dtype, shape, (long)offset, bytes));
        }
        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteLength)
                throw new ModelFormatException(file.Path, $"tensor '{sorted[i].Name}' overlaps '{sorted[i - 1].Name}'");
        return new GgufFile(file, version, metadata, tensors, dataStart, alignment);
    }

    /// <summary>ggml type ids Minnow reads; the IQ and TQ types are out of scope.</summary>
    internal static DType? TypeOf(uint id) => id switch
    {
        0 => DType.F32, 1 => DType.F16, 2 => DType.Q4_0, 3 => DType.Q4_1, 6 => DType.Q5_0, 7 => DType.Q5_1, 8 => DType.Q8_0,
        10 => DType.Q2_K, 11 => DType.Q3_K, 12 => DType.Q4_K, 13 => DType.Q5_K, 14 => DType.Q6_K, 30 => DType.BF16,
        _ => null,
    };

    private static string TypeName(uint id) => id switch
    {
        9 => "Q8_1", 15 => "Q8_K", 16 => "IQ2_XXS", 17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S",
        22 => "IQ2_S", 23 => "IQ4_XS", 24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M",
        34 => "TQ1_0", 35 => "TQ2_0",
        _ => "unknown",
    };

    /// <summary>A bounds-checked cursor over the map.</summary>
    private sealed class Reader(MappedFile file)
    {
        public long Offset { get; private set; }

        private ReadOnlySpan<byte> Take(int bytes, string field)
        {
            if (Offset + bytes > file.Length)
                throw new ModelFormatException(file.Path, $"truncated GGUF file: {field} at offset {Offset} runs past the end ({file.Length} bytes)");
            var span = file.Span(Offset, bytes);
            Offset += bytes;
            return span;
        }

        public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
        public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

        /// <summary>A count whose items need at least <paramref name="minBytesEach"/> bytes each: checked against what is left.</summary>
        public long Count(string field, long minBytesEach)
        {
            long at = Offset;
            ulong n = U64(field);
            if (n > (ulong)((file.Length - Offset) / Math.Max(1, minBytesEach)) + 1)
                throw new ModelFormatException(file.Path, $"{field} {n} at offset {at} is more than the rest of the file can hold (truncated or corrupted file?)");
            return (long)n;
        }

        public string String(string field)
        {
            long at = Offset;
            ulong length = U64($"length of {field}");
            if (length > (ulong)(file.Length - Offset))
                throw new ModelFormatException(file.Path, $"{field} at offset {at} claims {length} bytes, past the end of the file (truncated or corrupted file?)");
            var bytes = Take((int)length, field);
            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw new ModelFormatException(file.Path, $"{field} at offset {at} is not valid UTF-8");
            }
        }

        public GgufValue Value(GgufType type, string key, int depth)
        {
            switch (type)
            {
                case GgufType.Array:
                    if (depth > 0)
                        throw new ModelFormatException(file.Path, $"metadata '{key}': nested arrays are not supported");
                    var element = (GgufType)U32($"element type of '{key}'");
                    long count = Count($"length of array '{key}'", MinSize(element, key));
                    return new GgufValue(GgufType.Array, ReadArray(element, count, key), element);
                case GgufType.String:
                    return new GgufValue(type, String($"value of '{key}'"));
                default:
                    return new GgufValue(type, Scalar(type, key));
            }
        }

        private int MinSize(GgufType t, string key) => t switch
        {
            GgufType.UInt8 or GgufType.Int8 or GgufType.Bool => 1,
            GgufType.UInt16 or GgufType.Int16 => 2,
            GgufType.UInt32 or GgufType.Int32 or GgufType.Float32 => 4,
            GgufType.UInt64 or GgufType.Int64 or GgufType.Float64 or GgufType.String => 8,
            GgufType.Array => throw new ModelFormatException(file.Path, $"metadata '{key}': nested arrays are not supported"),
            _ => throw new ModelFormatException(file.Path, $"metadata '{key}' has unknown value type {(uint)t} at offset {Offset - 4}"),
        };

        private object Scalar(GgufType type, string key)
        {
            string field = $"value of '{key}'";
            return type switch
            {
                GgufType.UInt8 => Take(1, field)[0],
                GgufType.Int8 => (sbyte)Take(1, field)[0],
                GgufType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field)),
                GgufType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(Take(2, field)),
                GgufType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field)),
                GgufType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field)),
                GgufType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(Take(4, field)),
                GgufType.Bool => Take(1, field)[0] switch
                {
                    0 => false,
                    1 => true,
                    var b => throw new ModelFormatException(file.Path, $"{field} is a bool stored as {b}"),
                },
                GgufType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field)),
                GgufType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field)),
                GgufType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, field)),
                _ => throw new ModelFormatException(file.Path, $"metadata '{key}' has unknown value type {(uint)type} at offset {Offset - 4}"),
            };
        }

        private System.Array ReadArray(GgufType element, long count, string key)
        {
            int n = checked((int)count);
            switch (element)
            {
                case GgufType.String:
                {
                    var a = new string[n];
                    for (int i = 0; i < n; i++)
                        a[i] = String($"element {i} of '{key}'");
                    return a;
                }
                case GgufType.Float32:
                {
                    var a = new float[n];
                    for (int i = 0; i < n; i++)
                        a[i] = (float)Scalar(element, key);
                    return a;
                }
                case GgufType.Int32:
                {
                    var a = new int[n];
                    for (int i = 0; i < n; i++)
                        a[i] = (int)Scalar(element, key);
                    return a;
                }
                default:
                {
                    var first = n > 0 ? Scalar(element, key) : null;
                    var a = System.Array.CreateInstance(first?.GetType() ?? typeof(byte), n);
                    if (n > 0)
                        a.SetValue(first, 0);
                    for (int i = 1; i < n; i++)
                        a.SetValue(Scalar(element, key), i);
                    return a;
                }
            }
        }
    }
}
