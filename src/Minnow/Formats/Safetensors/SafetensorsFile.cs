using System.Buffers.Binary;
using System.Text.Json;
using Minnow.Tensors;

namespace Minnow.Formats.Safetensors;

/// <summary>One tensor's entry in a safetensors header: offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsEntry(string Name, DType DType, int[] Shape, long Begin, long End);

/// <summary>
/// A memory-mapped safetensors file: an unsigned 64-bit little-endian header length N, N bytes of JSON
/// (<c>{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}</c>), then the raw
/// little-endian tensor data. The header is validated as the reference implementation does — offsets inside the
/// data, contiguous and non-overlapping, byte lengths that agree with dtype and shape — so a corrupted file is a
/// <see cref="ModelFormatException"/> naming the file and the tensor, never an out-of-range read.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused (the reference implementation's limit) before any allocation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile _file;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private readonly long _dataStart;

    public string Path => _file.Path;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Entries in file order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    private SafetensorsFile(MappedFile file, List<SafetensorsEntry> entries, Dictionary<string, string> metadata, long dataStart)
    {
        _file = file;
        Entries = entries;
        _entries = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Metadata = metadata;
        _dataStart = dataStart;
    }

    public static SafetensorsFile Open(string path)
    {
        var file = new MappedFile(path);
        try
        {
            var (entries, metadata, dataStart) = ReadHeader(file);
            return new SafetensorsFile(file, entries, metadata, dataStart);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The named tensor as a view into the map (no copy).</summary>
    public Tensor Tensor(string name)
    {
        if (!_entries.TryGetValue(name, out var e))
            throw new ModelFormatException(Path, $"no tensor named '{name}'");
        return Minnow.Tensors.Tensor.View(name, e.DType, e.Shape, _file, _dataStart + e.Begin);
    }

    public void Dispose() => _file.Dispose();

    private static (List<SafetensorsEntry>, Dictionary<string, string>, long) ReadHeader(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new ModelFormatException(path, $"not a safetensors file: {file.Length} bytes, the header length alone needs 8");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8));
        if (headerLength > MaxHeaderBytes)
            throw new ModelFormatException(path, $"safetensors header length {headerLength} is larger than the {MaxHeaderBytes}-byte limit (corrupted or not a safetensors file)");
        if ((long)headerLength > file.Length - 8)
            throw new ModelFormatException(path, $"safetensors header length {headerLength} runs past the end of the file ({file.Length} bytes)");
        long dataStart = 8 + (long)headerLength;
        long dataLength = file.Length - dataStart;

        var root = JsonFile.ParseObject(file.Span(8, (int)headerLength), $"{path}: the safetensors header");

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SafetensorsEntry>();
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                if (property.Value.ValueKind != JsonValueKind.Object)
                    throw new ModelFormatException(path, "safetensors __metadata__ is not an object");
                foreach (var m in property.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                continue;
            }
            entries.Add(ReadEntry(path, property.Name, property.Value));
        }

        // The data section must be exactly covered by the tensors, in order, without gaps or overlaps.
        var byOffset = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long expected = 0;
        foreach (var e in byOffset)
        {
            if (e.Begin != expected)
                throw new ModelFormatException(path, e.Begin < expected
                    ? $"tensor '{e.Name}' (bytes {e.Begin}..{e.End}) overlaps the previous tensor, which ends at {expected}"
                    : $"tensor '{e.Name}' starts at byte {e.Begin}, leaving a gap after byte {expected}");
            expected = e.End;
        }
        if (expected != dataLength)
            throw new ModelFormatException(path, expected > dataLength
                ? $"tensor data runs past the end of the file: it ends at data byte {expected} but the file holds {dataLength} (truncated file?)"
                : $"the file has {dataLength - expected} bytes after the last tensor");
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        return (entries, metadata, dataStart);
    }

    private static SafetensorsEntry ReadEntry(string path, string name, JsonElement e)
    {
        ModelFormatException Bad(string what) => new(path, $"tensor '{name}': {what}");
        if (e.ValueKind != JsonValueKind.Object)
            throw Bad("header entry is not an object");
        if (!e.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("missing dtype");
        var dtype = ParseDType(dtypeElement.GetString()!) ?? throw Bad($"unsupported dtype '{dtypeElement.GetString()}'");
        if (!e.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("missing shape");
        var shape = new int[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out shape[i]) || shape[i] < 0)
                throw Bad($"shape [{string.Join(", ", shapeElement.EnumerateArray().Select(x => x.GetRawText()))}] has an invalid dimension");
            try { elements = checked(elements * shape[i]); }
            catch (OverflowException) { throw Bad("shape has more elements than can be addressed"); }
            i++;
        }
        if (!e.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Bad("data_offsets must be [begin, end] with 0 ≤ begin ≤ end");
        long bytes;
        try { bytes = checked(elements * dtype.BlockBytes()); }
        catch (OverflowException) { throw Bad("tensor byte size overflows"); }
        if (end - begin != bytes)
            throw Bad($"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype} [{string.Join(", ", shape)}] needs {bytes}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    /// <summary>safetensors dtype names ↔ <see cref="DType"/>.</summary>
    public static DType? ParseDType(string name) => name switch
    {
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "F64" => DType.F64,
        "I64" => DType.I64,
        "I32" => DType.I32,
        "I16" => DType.I16,
        "I8" => DType.I8,
        "U8" or "BOOL" => DType.U8,
        _ => null,
    };

    public static string DTypeName(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.F64 => "F64",
        DType.I64 => "I64",
        DType.I32 => "I32",
        DType.I16 => "I16",
        DType.I8 => "I8",
        DType.U8 => "U8",
        _ => throw new InvalidInputException($"{t} tensors cannot be stored in safetensors"),
    };
}
