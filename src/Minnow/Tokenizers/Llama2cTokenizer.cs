using System.Buffers.Binary;
using System.Text;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers;

/// <summary>
/// llama2.c's <c>tokenizer.bin</c>: an int32 max_token_length, then per token a float32 merge score, an int32 byte
/// length and the token's bytes (SentencePiece pieces with '▁' already turned into spaces; byte tokens stored as the
/// text "&lt;0xXX&gt;"). Encoding follows run.c exactly: a dummy-prefix space, one token per UTF-8 character (or its
/// bytes as byte tokens when the character is not in the vocabulary), then repeatedly merge the adjacent pair whose
/// concatenation is in the vocabulary with the highest score (the leftmost on ties), with the shared
/// <see cref="BytePairMerger"/>. Special-token text in the input is plain text, as in run.c.
/// </summary>
public sealed class Llama2cTokenizer : ITokenizer
{
    /// <summary>Token bytes as Latin-1 strings (one char per byte), so byte sequences hash and concatenate exactly.</summary>
    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    /// <summary>Whether each space-started word can be encoded (and cached) on its own: no piece holds a space after another character.</summary>
    private readonly bool _wordsAreIndependent;
    private readonly WordCache _cache = new();
    private readonly int[] _byteTokens = new int[256];
    private readonly bool[] _special;

    public int VocabSize => _pieces.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public int MaxTokenLength { get; }

    /// <summary>Reads a tokenizer.bin; the vocabulary size is however many tokens the file holds.</summary>
    public static Llama2cTokenizer Load(string path)
    {
        byte[] data = File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"{path}: file not found", path);
        if (data.Length < 4)
            throw new ModelFormatException(path, "truncated tokenizer.bin: no max_token_length header");
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxLength <= 0)
            throw new ModelFormatException(path, $"not a llama2.c tokenizer: max_token_length is {maxLength}");
        var pieces = new List<byte[]>();
        var scores = new List<float>();
        int offset = 4;
        while (offset < data.Length)
        {
            if (offset + 8 > data.Length)
                throw new ModelFormatException(path, $"truncated tokenizer.bin: token {pieces.Count} at offset {offset} has no complete score/length");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(offset));
            int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
            offset += 8;
            if (length < 0 || length > maxLength || offset + length > data.Length)
                throw new ModelFormatException(path, $"token {pieces.Count} at offset {offset - 8} has byte length {length} (max_token_length {maxLength}, {data.Length - offset} bytes left)");
            pieces.Add(data.AsSpan(offset, length).ToArray());
            scores.Add(score);
            offset += length;
        }
        if (pieces.Count == 0)
            throw new ModelFormatException(path, "tokenizer.bin holds no tokens");
        return new Llama2cTokenizer(pieces, scores, maxLength);
    }

    /// <summary>A tokenizer from pieces (raw bytes) and merge scores.</summary>
    public Llama2cTokenizer(IReadOnlyList<byte[]> pieces, IReadOnlyList<float> scores, int? maxTokenLength = null)
    {
        if (pieces.Count != scores.Count)
            throw new InvalidInputException($"{pieces.Count} pieces but {scores.Count} scores");
        _pieces = new string[pieces.Count];
        _scores = scores.ToArray();
        _ids = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        _special = new bool[pieces.Count];
        Array.Fill(_byteTokens, -1);
        int longest = 1;
        for (int i = 0; i < pieces.Count; i++)
        {
            string piece = Encoding.Latin1.GetString(pieces[i]);
            _pieces[i] = piece;
            _ids.TryAdd(piece, i);
            longest = Math.Max(longest, pieces[i].Length);
            if (TryParseByteToken(piece, out byte b) && _byteTokens[b] < 0)
                _byteTokens[b] = i;
            switch (piece.Trim())
            {
                case "<unk>":
                    _special[i] = true;
                    break;
                case "<s>":
                    _special[i] = true;
                    BosId ??= i;
                    break;
                case "</s>":
                    _special[i] = true;
                    EosId ??= i;
                    break;
            }
        }
        MaxTokenLength = maxTokenLength ?? longest;
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _wordsAreIndependent = MetaspaceWords.AreIndependent(_pieces, ' ');
    }

    /// <summary>Writes the tokenizer.bin format (atomically: temp file, then rename).</summary>
    public void Save(string path)
    {
        string temp = path + ".tmp";
        using (var stream = new BinaryWriter(File.Create(temp)))
        {
            stream.Write(MaxTokenLength);
            for (int i = 0; i < _pieces.Length; i++)
            {
                stream.Write(_scores[i]);
                stream.Write(_pieces[i].Length);
                stream.Write(Encoding.Latin1.GetBytes(_pieces[i]));
            }
        }
        File.Move(temp, path, overwrite: true);
    }

    public int[] Encode(string text, bool addSpecial = false, bool? parseSpecial = null)
    {
        if (parseSpecial == true)
            return EncodeWithSpecialText(text, addSpecial);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecial && BosId is int bos)
            ids.Add(bos);
        EncodePlain(text, ids);
        return ids.ToArray();
    }

    /// <summary>Splits out the text of special tokens (e.g. "&lt;s&gt;") as their ids, encoding the text between them plainly.</summary>
    private int[] EncodeWithSpecialText(string text, bool addSpecial)
    {
        var ids = new List<int>();
        if (addSpecial && BosId is int bos)
            ids.Add(bos);
        int start = 0;
        while (start <= text.Length)
        {
            int best = -1, bestId = -1, bestLength = 0;
            for (int id = 0; id < _pieces.Length; id++)
            {
                if (!_special[id]) continue;
                string marker = _pieces[id].Trim();
                int at = text.IndexOf(marker, start, StringComparison.Ordinal);
                if (at >= 0 && (best < 0 || at < best || (at == best && marker.Length > bestLength)))
                    (best, bestId, bestLength) = (at, id, marker.Length);
            }
            int end = best < 0 ? text.Length : best;
            if (end > start)
                EncodePlain(text[start..end], ids);
            if (best < 0)
                break;
            ids.Add(bestId);
            start = best + bestLength;
        }
        return ids.ToArray();
    }

    private void EncodePlain(string text, List<int> ids)
    {
        if (text.Length == 0)
            return;
        if (!_ids.ContainsKey(" "))
            throw new InvalidInputException("this tokenizer has no ' ' token for the dummy prefix");
        // The dummy-prefix space, then the text as Latin-1 code units of its UTF-8 bytes (how pieces are stored).
        string bytes = " " + Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));
        if (!_wordsAreIndependent)
        {
            EncodeWord(bytes, ids);
            return;
        }
        foreach (var word in MetaspaceWords.Split(bytes, ' '))
        {
            if (_cache.TryAppend(word, ids))
                continue;
            int before = ids.Count;
            EncodeWord(word, ids);
            _cache.Add(word, ids, before);
        }
    }

    /// <summary>
    /// One symbol per UTF-8 character (or its bytes as byte tokens when the character is not a piece), then run.c's
    /// merge loop (the adjacent pair whose concatenation is the best-scoring piece, the leftmost on ties).
    /// </summary>
    private void EncodeWord(ReadOnlySpan<char> bytes, List<int> ids)
    {
        var symbols = new List<MergeSymbol>(bytes.Length);
        for (int i = 0; i < bytes.Length;)
        {
            int length = 1;
            while (length < 4 && i + length < bytes.Length && (bytes[i + length] & 0xC0) == 0x80)
                length++;
            if (_lookup.TryGetValue(bytes.Slice(i, length), out int id))
                symbols.Add(new MergeSymbol(id, symbols.Count, symbols.Count + 1));
            else
                for (int j = 0; j < length; j++)
                    symbols.Add(new MergeSymbol(ByteToken((byte)bytes[i + j]), symbols.Count, symbols.Count + 1));
            i += length;
        }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);
        var rule = new ScoredConcatenation(this);
        int count = BytePairMerger.Merge(span, ref rule);
        for (int i = 0; i < count; i++)
            ids.Add(span[i].Id);
    }

    /// <summary>Two tokens merge when their pieces together are a piece; a higher score merges first.</summary>
    private readonly struct ScoredConcatenation(Llama2cTokenizer owner) : IMergeRule
    {
        public bool TryMerge(in MergeSymbol left, in MergeSymbol right, out long priority, out int merged)
        {
            string a = owner._pieces[left.Id], b = owner._pieces[right.Id];
            Span<char> both = stackalloc char[a.Length + b.Length];
            a.CopyTo(both);
            b.CopyTo(both[a.Length..]);
            priority = 0;
            if (!owner._lookup.TryGetValue(both, out merged))
                return false;
            // Higher scores first: order floats as integers (negatives' bits flipped), then negate.
            int bits = BitConverter.SingleToInt32Bits(owner._scores[merged]);
            priority = -(long)(bits >= 0 ? bits : bits ^ 0x7FFFFFFF);
            return true;
        }
    }

    private int ByteToken(byte b) =>
        _byteTokens[b] >= 0 ? _byteTokens[b] : b + 3 < _pieces.Length ? b + 3 : throw new InvalidInputException($"this tokenizer has no token for byte 0x{b:X2}");

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)_pieces.Length)
                throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {_pieces.Length})");
            string piece = _pieces[id];
            if (_special[id])
            {
                if (!skipSpecial)
                    foreach (char c in piece.Trim()) bytes.Add((byte)c);
                continue;
            }
            if (TryParseByteToken(piece, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            // The dummy-prefix space goes at the start of the text and after BOS (as SentencePiece and run.c do).
            bool first = i == 0 || ids[i - 1] == BosId;
            foreach (char c in first && piece.StartsWith(' ') ? piece.AsSpan(1) : piece)
                bytes.Add((byte)c);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public string IdToToken(int id) =>
        (uint)id < (uint)_pieces.Length ? Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(_pieces[id]))
            : throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {_pieces.Length})");

    public int? TokenToId(string token) => _ids.TryGetValue(Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(token)), out int id) ? id : null;

    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>The merge score of a token (higher merges first).</summary>
    public float Score(int id) => _scores[id];

    private static bool TryParseByteToken(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }
}
