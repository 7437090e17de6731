namespace Minnow.Tokenizers.SentencePiece;

/// <summary>The type of a SentencePiece piece (ModelProto.SentencePiece.Type).</summary>
public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

/// <summary>The segmentation algorithm a model was trained with (TrainerSpec.ModelType).</summary>
public enum SentencePieceAlgorithm { Unigram = 1, Bpe = 2, Word = 3, Char = 4 }

/// <summary>
/// The fields of a SentencePiece <c>.model</c> file (a serialized <c>sentencepiece.ModelProto</c>) that encoding and
/// decoding use: the pieces (text, score, type), the trainer settings that matter at run time, and the normalizer spec.
/// </summary>
public sealed record SentencePieceModel
{
    public required IReadOnlyList<(string Piece, float Score, PieceType Type)> Pieces { get; init; }
    public SentencePieceAlgorithm Algorithm { get; init; } = SentencePieceAlgorithm.Unigram;
    public bool ByteFallback { get; init; }
    public bool TreatWhitespaceAsSuffix { get; init; }
    public int UnkId { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    public int PadId { get; init; } = -1;
    /// <summary>What an unknown piece decodes to (" ⁇ " by default).</summary>
    public string UnkSurface { get; init; } = " \u2047 ";
    public string NormalizerName { get; init; } = "";
    /// <summary>The compiled normalization rules (empty for the "identity" normalizer).</summary>
    public byte[] PrecompiledCharsMap { get; init; } = [];
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;
    public bool EscapeWhitespaces { get; init; } = true;

    /// <summary>Reads a .model file.</summary>
    public static SentencePieceModel Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses ModelProto bytes.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string? path = null)
    {
        var pieces = new List<(string, float, PieceType)>();
        var model = new SentencePieceModel { Pieces = pieces };
        var reader = new ProtobufReader(data, path);
        while (!reader.End)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case 1:
                    reader.Expect(ProtobufReader.LengthDelimited, wire, "pieces");
                    pieces.Add(ReadPiece(reader.ReadBytes(out int offset), path, offset));
                    break;
                case 2:
                    reader.Expect(ProtobufReader.LengthDelimited, wire, "trainer_spec");
                    model = ReadTrainerSpec(reader.ReadBytes(out int trainerOffset), path, trainerOffset, model);
                    break;
                case 3:
                    reader.Expect(ProtobufReader.LengthDelimited, wire, "normalizer_spec");
                    model = ReadNormalizerSpec(reader.ReadBytes(out int normalizerOffset), path, normalizerOffset, model);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (pieces.Count == 0)
            throw new ModelFormatException(path, "not a SentencePiece model: it has no pieces");
        if ((uint)model.UnkId >= (uint)pieces.Count || pieces[model.UnkId].Item3 != PieceType.Unknown)
            throw new ModelFormatException(path, $"trainer_spec.unk_id {model.UnkId} is not an unknown-type piece");
        return model;
    }

    private static (string, float, PieceType) ReadPiece(ReadOnlySpan<byte> data, string? path, int offset)
    {
        var reader = new ProtobufReader(data, path, offset);
        string piece = "";
        float score = 0;
        var type = PieceType.Normal;
        while (!reader.End)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case 1: reader.Expect(ProtobufReader.LengthDelimited, wire, "piece"); piece = reader.ReadString(); break;
                case 2: reader.Expect(ProtobufReader.Fixed32, wire, "score"); score = reader.ReadFloat(); break;
                case 3:
                    reader.Expect(ProtobufReader.Varint, wire, "type");
                    ulong value = reader.ReadVarint();
                    type = value is >= 1 and <= 6 ? (PieceType)value : throw reader.Error($"piece '{piece}' has unknown type {value}");
                    break;
                default: reader.Skip(wire); break;
            }
        }
        return (piece, score, type);
    }

    private static SentencePieceModel ReadTrainerSpec(ReadOnlySpan<byte> data, string? path, int offset, SentencePieceModel model)
    {
        var reader = new ProtobufReader(data, path, offset);
        while (!reader.End)
        {
            var (field, wire) = reader.ReadTag();
            model = (field, wire) switch
            {
                (3, ProtobufReader.Varint) => model with { Algorithm = ModelType(ref reader) },
                (24, ProtobufReader.Varint) => model with { TreatWhitespaceAsSuffix = reader.ReadVarint() != 0 },
                (35, ProtobufReader.Varint) => model with { ByteFallback = reader.ReadVarint() != 0 },
                (40, ProtobufReader.Varint) => model with { UnkId = (int)reader.ReadVarint() },
                (41, ProtobufReader.Varint) => model with { BosId = (int)reader.ReadVarint() },
                (42, ProtobufReader.Varint) => model with { EosId = (int)reader.ReadVarint() },
                (43, ProtobufReader.Varint) => model with { PadId = (int)reader.ReadVarint() },
                (44, ProtobufReader.LengthDelimited) => model with { UnkSurface = reader.ReadString() },
                _ => Skip(ref reader, wire, model),
            };
        }
        return model;
    }

    private static SentencePieceModel ReadNormalizerSpec(ReadOnlySpan<byte> data, string? path, int offset, SentencePieceModel model)
    {
        var reader = new ProtobufReader(data, path, offset);
        while (!reader.End)
        {
            var (field, wire) = reader.ReadTag();
            model = (field, wire) switch
            {
                (1, ProtobufReader.LengthDelimited) => model with { NormalizerName = reader.ReadString() },
                (2, ProtobufReader.LengthDelimited) => model with { PrecompiledCharsMap = reader.ReadBytes(out _).ToArray() },
                (3, ProtobufReader.Varint) => model with { AddDummyPrefix = reader.ReadVarint() != 0 },
                (4, ProtobufReader.Varint) => model with { RemoveExtraWhitespaces = reader.ReadVarint() != 0 },
                (5, ProtobufReader.Varint) => model with { EscapeWhitespaces = reader.ReadVarint() != 0 },
                _ => Skip(ref reader, wire, model),
            };
        }
        return model;
    }

    private static SentencePieceAlgorithm ModelType(ref ProtobufReader reader)
    {
        ulong type = reader.ReadVarint();
        return type is >= 1 and <= 4 ? (SentencePieceAlgorithm)type : throw reader.Error($"unknown trainer_spec.model_type {type}");
    }

    private static SentencePieceModel Skip(ref ProtobufReader reader, int wire, SentencePieceModel model)
    {
        reader.Skip(wire);
        return model;
    }
}
