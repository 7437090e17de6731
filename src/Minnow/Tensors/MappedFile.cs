using System.IO.MemoryMappedFiles;

namespace Minnow.Tensors;

/// <summary>
/// A read-only memory map of a whole file. Tensors that view it keep it alive, so a model's weights cost
/// the page cache and nothing more (no copy into managed memory).
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    public string Path { get; }
    public long Length { get; }

    public MappedFile(string path)
    {
        Path = path;
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        Length = new FileInfo(path).Length;
        if (Length == 0)
            return;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += _view.PointerOffset;
    }

    /// <summary>Start of the file's bytes; valid until disposed.</summary>
    public byte* Pointer => _pointer;

    /// <summary>A span over <paramref name="length"/> bytes at <paramref name="offset"/>, bounds-checked against the file.</summary>
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ModelFormatException(Path, $"read of {length} bytes at offset {offset} is past the end of the file ({Length} bytes)");
        return new ReadOnlySpan<byte>(_pointer + offset, length);
    }

    public void Dispose()
    {
        if (_view is not null && _pointer != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointer = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
