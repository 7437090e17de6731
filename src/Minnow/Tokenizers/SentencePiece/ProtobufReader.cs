namespace Minnow.Tokenizers.SentencePiece;

/// <summary>
/// Just enough of the protobuf wire format to read a SentencePiece ModelProto: varints, 32/64-bit fixed values and
/// length-delimited fields (strings, bytes, sub-messages); unknown fields are skipped by wire type. Hand-written rather
/// than Google.Protobuf with generated classes because the schema needs a dozen fields and this keeps the library free
/// of a dependency and a code generator (Microsoft.ML.Tokenizers reads the file the same way).
/// </summary>
internal ref struct ProtobufReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string? _path;
    private readonly int _base;
    private int _position;

    /// <param name="data">The message bytes.</param>
    /// <param name="path">The file, for error messages.</param>
    /// <param name="baseOffset">Where <paramref name="data"/> starts in the file, so errors give file offsets.</param>
    public ProtobufReader(ReadOnlySpan<byte> data, string? path, int baseOffset = 0)
    {
        _data = data;
        _path = path;
        _base = baseOffset;
    }

    /// <summary>The file offset of the next byte.</summary>
    public int Offset => _base + _position;

    public bool End => _position >= _data.Length;

    /// <summary>Reads a field key: its number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong key = ReadVarint();
        int field = (int)(key >> 3);
        if (field <= 0)
            throw Error($"invalid field number {field}");
        return (field, (int)(key & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
                throw Error("truncated varint");
            byte b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return value;
        }
        throw Error("varint longer than 10 bytes");
    }

    public float ReadFloat()
    {
        if (_position + 4 > _data.Length)
            throw Error("truncated float");
        float value = BitConverter.ToSingle(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>A length-delimited field's bytes (and the file offset where they start).</summary>
    public ReadOnlySpan<byte> ReadBytes(out int offset)
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
            throw Error($"field of {length} bytes runs past the end of its message");
        offset = Offset;
        var bytes = _data.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes(out _));

    /// <summary>Skips a field's value by its wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Advance(8); break;
            case LengthDelimited: ReadBytes(out _); break;
            case Fixed32: Advance(4); break;
            default: throw Error($"unsupported wire type {wireType}");
        }
    }

    /// <summary>Checks the wire type of a field the reader expects.</summary>
    public void Expect(int wireType, int actual, string field)
    {
        if (wireType != actual)
            throw Error($"field {field} has wire type {actual}, expected {wireType}");
    }

    private void Advance(int count)
    {
        if (_position + count > _data.Length)
            throw Error("truncated fixed-size field");
        _position += count;
    }

    public ModelFormatException Error(string message) => new(_path, $"protobuf at offset {Offset}: {message}");
}
