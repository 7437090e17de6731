using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Minnow.Tensors;
using Minnow.Tokenizers;

namespace Minnow.Training;

/// <summary>
/// What <c>meta.json</c> of a prepared data folder says: the token width, the tokenizer the ids belong to (its
/// vocabulary size and a hash of its file) and where the text was split.
/// </summary>
public sealed record TokenShardsMeta
{
    public const string FileName = "meta.json";
    public const string TrainFile = "train.bin";
    public const string ValFile = "val.bin";
    /// <summary>The validation text itself, byte for byte, to score with <c>minnow eval perplexity</c>.</summary>
    public const string ValTextFile = "val.txt";

    public string Format { get; init; } = "minnow-tokens-v1";
    /// <summary>"uint16" or "uint32", little-endian.</summary>
    public required string Dtype { get; init; }
    public required int VocabSize { get; init; }
    public required string TokenizerSha256 { get; init; }
    public required string[] Inputs { get; init; }
    public required long TotalBytes { get; init; }
    /// <summary>The first validation byte of the concatenated inputs.</summary>
    public required long SplitByte { get; init; }
    public required double ValFraction { get; init; }
    public required long TrainTokens { get; init; }
    public required long ValTokens { get; init; }

    [JsonIgnore] public int BytesPerToken => Dtype == "uint16" ? 2 : 4;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static TokenShardsMeta Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InvalidInputException($"{folder}: data folder not found (make one with `minnow data prepare`)");
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new InvalidInputException($"{folder}: no {FileName} here; is this a folder written by `minnow data prepare`?");
        var meta = JsonSerializer.Deserialize<TokenShardsMeta>(File.ReadAllText(path), Json)
            ?? throw new InvalidInputException($"{path}: empty");
        if (meta.Format != "minnow-tokens-v1" || meta.Dtype is not ("uint16" or "uint32"))
            throw new InvalidInputException($"{path}: unknown format '{meta.Format}' / dtype '{meta.Dtype}'");
        return meta;
    }

    public void Save(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>Hex SHA-256 of a file (identifies the tokenizer the ids were made with).</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>Progress of <see cref="TokenShards.Prepare"/>: bytes of text tokenized so far.</summary>
public readonly record struct DataPrepareProgress(long Bytes, long Total);

/// <summary>
/// A corpus tokenized into two binary files of token ids (<c>train.bin</c>, <c>val.bin</c>; uint16 when the
/// vocabulary fits, else uint32), memory-mapped while training. <see cref="Prepare"/> writes them.
/// </summary>
public sealed class TokenShards : IDisposable
{
    /// <summary>Texts are cut into pieces of about this many characters to tokenize in parallel.</summary>
    private const int ChunkChars = 1 << 16;

    private readonly MappedFile _train, _val;

    public TokenShardsMeta Meta { get; }
    public long TrainTokens => Meta.TrainTokens;
    public long ValTokens => Meta.ValTokens;

    private TokenShards(TokenShardsMeta meta, MappedFile train, MappedFile val)
    {
        Meta = meta;
        _train = train;
        _val = val;
    }

    /// <summary>Opens a prepared folder and checks the files agree with meta.json.</summary>
    public static TokenShards Open(string folder)
    {
        var meta = TokenShardsMeta.Load(folder);
        MappedFile? train = null, val = null;
        try
        {
            train = new MappedFile(Path.Combine(folder, TokenShardsMeta.TrainFile));
            val = new MappedFile(Path.Combine(folder, TokenShardsMeta.ValFile));
            if (train.Length != meta.TrainTokens * meta.BytesPerToken || val.Length != meta.ValTokens * meta.BytesPerToken)
                throw new InvalidInputException($"{folder}: train.bin/val.bin sizes ({train.Length}, {val.Length} bytes) do not match meta.json " +
                    $"({meta.TrainTokens}, {meta.ValTokens} tokens of {meta.Dtype}); prepare the data again");
            return new TokenShards(meta, train, val);
        }
        catch
        {
            train?.Dispose();
            val?.Dispose();
            throw;
        }
    }

    /// <summary>Copies tokens [start, start + destination.Length) of the train (or validation) split into <paramref name="destination"/>.</summary>
    public unsafe void Read(bool validation, long start, Span<int> destination)
    {
        var file = validation ? _val : _train;
        long count = validation ? ValTokens : TrainTokens;
        if (start < 0 || start + destination.Length > count)
            throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + destination.Length}) are outside the {count} of the split");
        if (Meta.BytesPerToken == 2)
        {
            var source = new ReadOnlySpan<ushort>(file.Pointer + start * 2, destination.Length);
            for (int i = 0; i < source.Length; i++)
                destination[i] = BitConverter.IsLittleEndian ? source[i] : BinaryPrimitives.ReverseEndianness(source[i]);
        }
        else
        {
            var source = new ReadOnlySpan<uint>(file.Pointer + start * 4, destination.Length);
            for (int i = 0; i < source.Length; i++)
                destination[i] = (int)(BitConverter.IsLittleEndian ? source[i] : BinaryPrimitives.ReverseEndianness(source[i]));
        }
    }

    public void Dispose()
    {
        _train.Dispose();
        _val.Dispose();
    }

    /// <summary>
    /// Tokenizes <paramref name="inputs"/> (UTF-8 files, taken as one text in the order given) into
    /// <paramref name="output"/>: the validation split is the last <paramref name="valFraction"/> of the text's bytes
    /// (the split byte moved back to the start of a UTF-8 character), the train split everything before it. Each
    /// file and each split is tokenized on its own (no token spans a file or the split); long texts are cut at line
    /// starts into pieces tokenized in parallel on <paramref name="threads"/> threads. Writes train.bin, val.bin,
    /// val.txt (the validation text) and meta.json. The text is held in memory while it is tokenized (fine for
    /// corpora up to a few hundred MB).
    /// </summary>
    public static TokenShardsMeta Prepare(IReadOnlyList<string> inputs, string tokenizerPath, string output, double valFraction = 0.1,
        int threads = 0, IProgress<DataPrepareProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (inputs.Count == 0)
            throw new InvalidInputException("no input files");
        if (!(valFraction >= 0 && valFraction < 1))
            throw new InvalidInputException($"--val-fraction must be in [0, 1), got {valFraction}");
        foreach (string input in inputs)
            if (!File.Exists(input))
                throw new FileNotFoundException($"{input}: file not found", input);
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        long total = inputs.Sum(f => new FileInfo(f).Length);
        if (total == 0)
            throw new InvalidInputException("the input files are empty");
        byte[][] contents = inputs.Select(File.ReadAllBytes).ToArray();
        long split = (long)Math.Floor(total * (1 - valFraction));
        // Back to the first byte of a character, so both splits are valid UTF-8.
        while (split > 0 && split < total && (ByteAt(contents, split) & 0xC0) == 0x80)
            split--;

        var trainTexts = new List<string>();
        var valBytes = new List<byte[]>();
        long offset = 0;
        foreach (var bytes in contents)
        {
            long cut = Math.Clamp(split - offset, 0, bytes.Length);
            if (cut > 0)
                trainTexts.Add(Decode(bytes.AsSpan(0, (int)cut), inputs[trainTexts.Count]));
            if (cut < bytes.Length)
                valBytes.Add(bytes[(int)cut..]);
            offset += bytes.Length;
        }
        var valText = valBytes.Select(b => Decode(b, "validation split")).ToList();

        Directory.CreateDirectory(output);
        long done = 0;
        void Advance(long bytes) => progress?.Report(new DataPrepareProgress(Interlocked.Add(ref done, bytes), total));
        bool wide = tokenizer.VocabSize > ushort.MaxValue + 1;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = cancellationToken };
        long trainTokens = WriteTokens(Path.Combine(output, TokenShardsMeta.TrainFile), trainTexts, tokenizer, wide, options, Advance);
        long valTokens = WriteTokens(Path.Combine(output, TokenShardsMeta.ValFile), valText, tokenizer, wide, options, Advance);
        AtomicFile.Write(Path.Combine(output, TokenShardsMeta.ValTextFile), stream =>
        {
            foreach (var b in valBytes)
                stream.Write(b);
        });
        var meta = new TokenShardsMeta
        {
            Dtype = wide ? "uint32" : "uint16",
            VocabSize = tokenizer.VocabSize,
            TokenizerSha256 = TokenShardsMeta.Sha256Of(tokenizerPath),
            Inputs = inputs.Select(Path.GetFullPath).ToArray(),
            TotalBytes = total,
            SplitByte = split,
            ValFraction = valFraction,
            TrainTokens = trainTokens,
            ValTokens = valTokens,
        };
        meta.Save(output);
        return meta;
    }

    private static byte ByteAt(byte[][] contents, long position)
    {
        foreach (var b in contents)
        {
            if (position < b.Length)
                return b[position];
            position -= b.Length;
        }
        throw new ArgumentOutOfRangeException(nameof(position));
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string Decode(ReadOnlySpan<byte> bytes, string source)
    {
        try
        {
            if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
                bytes = bytes[3..];
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidInputException($"{source}: invalid UTF-8 at byte {e.Index}");
        }
    }

    /// <summary>Tokenizes each text (cut into line-aligned pieces, in parallel) and writes the ids in order.</summary>
    private static long WriteTokens(string path, List<string> texts, ITokenizer tokenizer, bool wide, ParallelOptions options, Action<long> advance)
    {
        var pieces = texts.SelectMany(Pieces).ToArray();
        var ids = new int[pieces.Length][];
        Parallel.For(0, pieces.Length, options, i =>
        {
            ids[i] = tokenizer.Encode(pieces[i]);
            advance(Encoding.UTF8.GetByteCount(pieces[i]));
        });
        long count = 0;
        AtomicFile.Write(path, stream =>
        {
            var buffer = new byte[1 << 16];
            foreach (var block in ids)
            {
                foreach (int id in block)
                {
                    if ((uint)id >= (uint)tokenizer.VocabSize)
                        throw new InvalidInputException($"the tokenizer produced id {id}, outside its vocabulary of {tokenizer.VocabSize}");
                }
                int width = wide ? 4 : 2;
                for (int start = 0; start < block.Length; start += buffer.Length / width)
                {
                    int n = Math.Min(buffer.Length / width, block.Length - start);
                    for (int i = 0; i < n; i++)
                    {
                        if (wide) BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(i * 4), (uint)block[start + i]);
                        else BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(i * 2), (ushort)block[start + i]);
                    }
                    stream.Write(buffer, 0, n * width);
                }
                count += block.Length;
            }
        });
        return count;
    }

    /// <summary>
    /// Cuts a text into pieces of about <see cref="ChunkChars"/> characters, each ending with a newline that is
    /// followed by a non-whitespace character, so no pre-tokenizer word or whitespace run is cut.
    /// </summary>
    private static IEnumerable<string> Pieces(string text)
    {
        int start = 0;
        while (text.Length - start > 2 * ChunkChars)
        {
            int cut = -1;
            for (int i = start + ChunkChars; i < text.Length - 1 && i < start + 4 * ChunkChars; i++)
                if (text[i] == '\n' && !char.IsWhiteSpace(text[i + 1]))
                {
                    cut = i + 1;
                    break;
                }
            if (cut < 0)
                break;
            yield return text[start..cut];
            start = cut;
        }
        yield return text[start..];
    }
}
