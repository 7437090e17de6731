using System.Text;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.SentencePiece;

/// <summary>
/// A SentencePiece <c>.model</c> tokenizer, encoding as SentencePiece's <c>EncodeAsIds</c> does: normalize (the compiled
/// rules if any; optionally drop leading, trailing and repeated spaces; a dummy-prefix space; spaces as '▁'), segment
/// (BPE: merge the adjacent pair whose concatenation is the highest-scoring piece; Unigram: Viterbi; also the Char and
/// Word models), then map pieces to ids, spelling unknown pieces as "&lt;0xXX&gt;" byte pieces when byte fallback is on
/// and fusing runs of unknowns otherwise. User-defined pieces are matched first and never split or merged.
/// Control-piece text ("&lt;s&gt;") is plain text unless <c>parseSpecial</c> is set; <c>addSpecial</c> adds BOS.
/// </summary>
public sealed class SentencePieceTokenizer : ITokenizer
{
    private const char Whitespace = MetaspaceWords.Whitespace;

    private readonly SentencePieceModel _model;
    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly PieceType[] _types;
    /// <summary>Normal, user-defined and unused pieces: what segmentation may produce.</summary>
    private readonly Dictionary<string, int> _ordinary = new(StringComparer.Ordinal);
    /// <summary>Control, unknown and byte pieces.</summary>
    private readonly Dictionary<string, int> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ordinaryLookup;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reservedLookup;
    /// <summary>User-defined pieces, longest first (and as UTF-8 for the normalizer).</summary>
    private readonly string[] _userDefined;
    private readonly byte[][] _userDefinedUtf8;
    private readonly PrecompiledCharsMap? _charsMap;
    private readonly UnigramModel? _unigram;
    private readonly int[] _byteIds = new int[256];
    /// <summary>Whether each '▁'-word can be segmented (and cached) on its own (see <see cref="MetaspaceWords"/>).</summary>
    private readonly bool _wordsAreIndependent;
    private readonly WordCache _cache = new();
    private readonly AddedVocabulary _specials;
    /// <summary>Normal and user-defined pieces whose text no reserved piece shares (SentencePiece's lookup would prefer that one).</summary>
    private readonly bool[] _direct;
    /// <summary>BPE merges by id pair (see <see cref="BuildPairs"/>); empty for the other algorithms.</summary>
    private readonly Dictionary<long, int> _pairs = [];

    public SentencePieceModel Model => _model;
    public int VocabSize => _pieces.Length;
    public int? BosId { get; }
    public int? EosId { get; }

    /// <summary>Loads a .model file.</summary>
    public static SentencePieceTokenizer Load(string path) => new(SentencePieceModel.Load(path), path);

    public SentencePieceTokenizer(SentencePieceModel model, string? path = null)
    {
        _model = model;
        int n = model.Pieces.Count;
        _pieces = new string[n];
        _scores = new float[n];
        _types = new PieceType[n];
        var userDefined = new List<string>();
        var specials = new List<AddedToken>();
        Array.Fill(_byteIds, -1);
        for (int id = 0; id < n; id++)
        {
            var (piece, score, type) = model.Pieces[id];
            (_pieces[id], _scores[id], _types[id]) = (piece, score, type);
            bool ordinary = type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused;
            if (!(ordinary ? _ordinary : _reserved).TryAdd(piece, id))
                throw new ModelFormatException(path, $"piece {id} '{piece}' is defined twice");
            if (type == PieceType.UserDefined)
                userDefined.Add(piece);
            if (type == PieceType.Byte)
                _byteIds[ByteFallbackDecoder.TryParseByte(piece, out byte b) ? b : throw new ModelFormatException(path, $"byte piece {id} '{piece}' is not <0xXX>")] = id;
            if (type is PieceType.Control or PieceType.Unknown && piece.Length > 0)
                specials.Add(new AddedToken(id, piece, Special: true));
        }
        _ordinaryLookup = _ordinary.GetAlternateLookup<ReadOnlySpan<char>>();
        _direct = Enumerable.Range(0, n).Select(id => _types[id] is PieceType.Normal or PieceType.UserDefined && !_reserved.ContainsKey(_pieces[id])).ToArray();
        _reservedLookup = _reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _userDefined = userDefined.OrderByDescending(p => p.Length).ToArray();
        _userDefinedUtf8 = _userDefined.Select(Encoding.UTF8.GetBytes).OrderByDescending(p => p.Length).ToArray();
        _specials = new AddedVocabulary(specials);
        if (model.PrecompiledCharsMap.Length > 0)
            _charsMap = new PrecompiledCharsMap(model.PrecompiledCharsMap, path);
        if (model.Algorithm == SentencePieceAlgorithm.Unigram)
            _unigram = BuildUnigram();
        if (model.Algorithm == SentencePieceAlgorithm.Bpe)
            _pairs = BuildPairs();
        _wordsAreIndependent = !model.TreatWhitespaceAsSuffix && MetaspaceWords.AreIndependent(_ordinary.Keys);
        BosId = model.BosId >= 0 && model.BosId < n ? model.BosId : null;
        EosId = model.EosId >= 0 && model.EosId < n ? model.EosId : null;
    }

    /// <summary>
    /// SentencePiece's unigram lattice uses normal and user-defined pieces; a user-defined piece scores
    /// length x (highest normal score, at least FLT_MIN) - 0.1 so that it is always chosen.
    /// </summary>
    private UnigramModel BuildUnigram()
    {
        float maxScore = float.Epsilon;
        foreach (var (piece, score, type) in _model.Pieces)
            if (type == PieceType.Normal)
                maxScore = Math.Max(maxScore, score);
        maxScore = Math.Max(maxScore, 1.17549435E-38f);
        var scores = new double[_pieces.Length];
        for (int id = 0; id < scores.Length; id++)
            scores[id] = _types[id] == PieceType.UserDefined ? CodePoints(_pieces[id]) * maxScore - 0.1 : _scores[id];
        return new UnigramModel(_pieces, scores, _model.UnkId, byteFallback: false,
            id => _types[id] is PieceType.Normal or PieceType.UserDefined, singlePrecision: true);
    }

    private static int CodePoints(string s) => s.Length - s.Count(char.IsLowSurrogate);

    public int[] Encode(string text, bool addSpecial = false, bool? parseSpecial = null)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecial && BosId is int bos)
            ids.Add(bos);
        if (parseSpecial == true)
        {
            var segments = new List<Segment>();
            _specials.SplitRaw(text, parseSpecial: true, segments);
            foreach (var segment in segments)
            {
                if (segment.IsToken)
                    ids.Add(segment.TokenId);
                else
                    EncodeText(text[segment.Start..segment.End], ids);
            }
        }
        else
            EncodeText(text, ids);
        return ids.ToArray();
    }

    private void EncodeText(string text, List<int> ids)
    {
        string normalized = Normalize(text);
        if (normalized.Length == 0)
            return;
        int first = ids.Count;
        if (!_wordsAreIndependent)
            SegmentWord(normalized, ids);
        else
        {
            foreach (var word in MetaspaceWords.Split(normalized))
            {
                if (_cache.TryAppend(word, ids))
                    continue;
                int before = ids.Count;
                SegmentWord(word, ids);
                _cache.Add(word, ids, before);
            }
        }
        // Runs of unknown pieces are one unknown piece (SentencePiece merges them so that decoding can copy them).
        if (!_model.ByteFallback)
            for (int i = ids.Count - 1; i > first; i--)
                if (ids[i] == _model.UnkId && ids[i - 1] == _model.UnkId)
                    ids.RemoveAt(i);
    }

    /// <summary>Segments text (a word or the whole normalized text) and appends the ids of its pieces.</summary>
    private void SegmentWord(ReadOnlySpan<char> text, List<int> ids)
    {
        switch (_model.Algorithm)
        {
            case SentencePieceAlgorithm.Bpe:
                SegmentBpe(text, ids);
                break;
            case SentencePieceAlgorithm.Unigram:
                foreach (var (id, start, end) in _unigram!.Viterbi(text.ToString()))
                    AddPiece(text[start..end], ids);
                break;
            case SentencePieceAlgorithm.Char:
                for (int i = 0; i < text.Length;)
                {
                    int units = char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1;
                    AddPiece(text.Slice(i, units), ids);
                    i += units;
                }
                break;
            case SentencePieceAlgorithm.Word:
                int wordStart = 0;
                for (int i = 1; i <= text.Length; i++)
                    if (i == text.Length || text[i] == Whitespace)
                    {
                        AddPiece(text[wordStart..i], ids);
                        wordStart = i;
                    }
                break;
        }
    }

    /// <summary>A segmented piece's id: reserved pieces first, then ordinary ones; unknown text becomes byte pieces (with byte fallback) or the unknown id.</summary>
    private void AddPiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (_reservedLookup.TryGetValue(piece, out int id) || _ordinaryLookup.TryGetValue(piece, out id))
        {
            ids.Add(id);
            return;
        }
        if (_model.ByteFallback)
        {
            Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(piece.Length)];
            int length = Encoding.UTF8.GetBytes(piece, bytes);
            foreach (byte b in bytes[..length])
                ids.Add(_byteIds[b] >= 0 ? _byteIds[b] : _model.UnkId);
            return;
        }
        ids.Add(_model.UnkId);
    }

    private void SegmentBpe(ReadOnlySpan<char> text, List<int> ids)
    {
        // One symbol per character, except that user-defined pieces are matched first (longest) and frozen.
        var symbols = new MergeSymbol[text.Length];
        int count = 0;
        for (int i = 0; i < text.Length;)
        {
            int length = MatchUserDefined(text[i..]);
            bool frozen = length > 0;
            if (!frozen)
                length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int id = _ordinaryLookup.TryGetValue(text.Slice(i, length), out int known) ? known : -1;
            symbols[count++] = new MergeSymbol(id, i, i + length, frozen);
            i += length;
        }
        string source = text.ToString();
        var rule = new ScoredConcatenation(this, source);
        count = BytePairMerger.Merge(symbols.AsSpan(0, count), ref rule);
        for (int i = 0; i < count; i++)
        {
            // A symbol that is a normal or user-defined piece is its own id; unused pieces and unknown text take the long way.
            int id = symbols[i].Id;
            if (id >= 0 && _direct[id])
                ids.Add(id);
            else
                Resegment(source.AsSpan(symbols[i].Start, symbols[i].End - symbols[i].Start), rule.UnusedSplits, ids);
        }
    }

    /// <summary>An unused piece that a merge produced is split back into the two pieces it was made from, recursively.</summary>
    private void Resegment(ReadOnlySpan<char> piece, Dictionary<string, (string, string)>? unusedSplits, List<int> ids)
    {
        if (unusedSplits is not null && _ordinaryLookup.TryGetValue(piece, out int id) && _types[id] == PieceType.Unused
            && unusedSplits.TryGetValue(_pieces[id], out var parts))
        {
            Resegment(parts.Item1, unusedSplits, ids);
            Resegment(parts.Item2, unusedSplits, ids);
            return;
        }
        AddPiece(piece, ids);
    }

    private int MatchUserDefined(ReadOnlySpan<char> text)
    {
        foreach (string piece in _userDefined)
            if (text.StartsWith(piece, StringComparison.Ordinal))
                return piece.Length;
        return 0;
    }

    /// <summary>
    /// Two symbols merge when their text together is an ordinary piece; a higher score merges first. Symbols that are
    /// pieces are looked up by id pair in <see cref="_pairs"/> (no string hashing); a symbol that is no piece (a
    /// character outside the vocabulary) falls back to looking its text up.
    /// </summary>
    private struct ScoredConcatenation(SentencePieceTokenizer owner, string text) : IMergeRule
    {
        public Dictionary<string, (string, string)>? UnusedSplits;

        public bool TryMerge(in MergeSymbol left, in MergeSymbol right, out long priority, out int merged)
        {
            priority = 0;
            if (left.Id >= 0 && right.Id >= 0)
            {
                if (!owner._pairs.TryGetValue(SpanLookup.PairKey(left.Id, right.Id), out merged))
                    return false;
            }
            else if (!owner._ordinaryLookup.TryGetValue(text.AsSpan(left.Start, right.End - left.Start), out merged))
                return false;
            priority = owner.Priority(merged);
            if (owner._types[merged] == PieceType.Unused)
                (UnusedSplits ??= [])[owner._pieces[merged]] = (text[left.Start..left.End], text[right.Start..right.End]);
            return true;
        }
    }

    /// <summary>Higher scores merge first: floats ordered as integers (negatives' bits flipped), then negated.</summary>
    private long Priority(int id)
    {
        int bits = BitConverter.SingleToInt32Bits(_scores[id]);
        return -(long)(bits >= 0 ? bits : bits ^ 0x7FFFFFFF);
    }

    /// <summary>Every (left piece, right piece) whose concatenation is an ordinary piece, for the BPE merge rule.</summary>
    private Dictionary<long, int> BuildPairs()
    {
        var pairs = new Dictionary<long, int>(PairKeyComparer.Instance);
        foreach (var (piece, id) in _ordinary)
            for (int split = 1; split < piece.Length; split++)
                if (!char.IsLowSurrogate(piece[split]) && _ordinaryLookup.TryGetValue(piece.AsSpan(0, split), out int left)
                    && _ordinaryLookup.TryGetValue(piece.AsSpan(split), out int right))
                    pairs[SpanLookup.PairKey(left, right)] = id;
        return pairs;
    }

    /// <summary>SentencePiece's normalizer, on UTF-8 bytes as the original works.</summary>
    internal string Normalize(string text)
    {
        // Llama's case (identity rules, spaces kept, no user-defined pieces, no lone surrogates): only the dummy
        // prefix and '▁' for ' ' remain, which needs no trip through UTF-8.
        if (_charsMap is null && _userDefined.Length == 0 && !_model.RemoveExtraWhitespaces && _model.EscapeWhitespaces
            && !_model.TreatWhitespaceAsSuffix && text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
            return text.Length == 0 ? "" : string.Concat(_model.AddDummyPrefix ? "\u2581" : "", text.Replace(' ', Whitespace));
        byte[] input = Encoding.UTF8.GetBytes(text);
        var output = new List<byte>(input.Length + 8);
        bool removeExtra = _model.RemoveExtraWhitespaces;
        ReadOnlySpan<byte> space = _model.EscapeWhitespaces ? "\u2581"u8 : " "u8;
        int position = 0;
        if (removeExtra)
            while (position < input.Length)
            {
                var piece = NormalizePrefix(input, position, out int consumed);
                if (!piece.SequenceEqual(" "u8))
                    break;
                position += consumed;
            }
        if (position == input.Length)
            return "";
        bool suffix = _model.TreatWhitespaceAsSuffix;
        if (!suffix && _model.AddDummyPrefix)
            output.AddRange(space);
        bool previousSpace = removeExtra;
        while (position < input.Length)
        {
            var piece = NormalizePrefix(input, position, out int consumed);
            if (previousSpace)
                while (piece.Length > 0 && piece[0] == ' ')
                    piece = piece[1..];
            if (piece.Length > 0)
            {
                foreach (byte b in piece)
                    if (b == ' ' && _model.EscapeWhitespaces)
                        output.AddRange(space);
                    else
                        output.Add(b);
                previousSpace = piece[^1] == ' ';
            }
            position += consumed;
            if (!removeExtra)
                previousSpace = false;
        }
        if (removeExtra)
            while (output.Count >= space.Length && System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[^space.Length..].SequenceEqual(space))
                output.RemoveRange(output.Count - space.Length, space.Length);
        if (suffix && _model.AddDummyPrefix)
            output.AddRange(space);
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output));
    }

    /// <summary>The normalized form of the text at <paramref name="position"/> and how many input bytes it stands for.</summary>
    private ReadOnlySpan<byte> NormalizePrefix(byte[] input, int position, out int consumed)
    {
        var rest = input.AsSpan(position);
        consumed = 0;
        // User-defined pieces pass through the normalizer untouched.
        foreach (byte[] piece in _userDefinedUtf8)
        {
            if (rest.StartsWith(piece))
            {
                consumed = piece.Length;
                return rest[..piece.Length];
            }
        }
        if (_charsMap is not null && _charsMap.TryLongest(rest, out consumed, out var replacement))
            return replacement;
        // A malformed byte becomes U+FFFD and consumes one byte, as in SentencePiece.
        if (System.Text.Rune.DecodeFromUtf8(rest, out _, out consumed) == System.Buffers.OperationStatus.Done)
            return rest[..consumed];
        consumed = 1;
        return "\uFFFD"u8;
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        // Only the first piece that is not a control piece loses its dummy-prefix '▁'.
        bool atStart = true;
        void FlushBytes()
        {
            if (bytes.Count == 0)
                return;
            AppendUtf8(text, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
            bytes.Clear();
        }
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_pieces.Length)
                throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {_pieces.Length})");
            switch (_types[id])
            {
                case PieceType.Byte:
                    bytes.Add((byte)Array.IndexOf(_byteIds, id));
                    atStart = false;
                    continue;
                case PieceType.Control:
                    continue;
            }
            FlushBytes();
            bool first = atStart;
            atStart = false;
            if (_types[id] == PieceType.Unknown)
            {
                if (!skipSpecial)
                    text.Append(_model.UnkSurface);
                continue;
            }
            string piece = _pieces[id];
            // The dummy-prefix space of the first piece of the text is not part of the text.
            if (first && !_model.TreatWhitespaceAsSuffix && piece.StartsWith(Whitespace) && (_model.AddDummyPrefix || _model.RemoveExtraWhitespaces))
                piece = piece[1..];
            text.Append(piece.Replace(Whitespace, ' '));
        }
        FlushBytes();
        return text.ToString();
    }

    /// <summary>UTF-8 to text with one U+FFFD for each byte of an invalid sequence, as SentencePiece decodes byte pieces.</summary>
    private static void AppendUtf8(StringBuilder text, ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out var rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done)
                text.Append(rune.ToString());
            else
                text.Append('\uFFFD', consumed);
            bytes = bytes[consumed..];
        }
    }

    public string IdToToken(int id) =>
        (uint)id < (uint)_pieces.Length ? _pieces[id] : throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {_pieces.Length})");

    public int? TokenToId(string token) => _reserved.TryGetValue(token, out int id) || _ordinary.TryGetValue(token, out id) ? id : null;

    public bool IsSpecial(int id) => (uint)id < (uint)_types.Length && _types[id] is PieceType.Control or PieceType.Unknown;
}
