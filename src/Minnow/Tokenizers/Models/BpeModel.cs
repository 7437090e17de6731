using System.Buffers;
using System.Text;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Models;

/// <summary>Options of HF's BPE model (tokenizer.json <c>model</c> with <c>"type": "BPE"</c>).</summary>
internal sealed record BpeOptions
{
    public string? UnkToken { get; init; }
    /// <summary>Consecutive unknown characters become one unknown token.</summary>
    public bool FuseUnk { get; init; }
    /// <summary>A character not in the vocabulary becomes its UTF-8 bytes as "&lt;0xXX&gt;" tokens (SentencePiece-style vocabularies).</summary>
    public bool ByteFallback { get; init; }
    /// <summary>A piece that is itself in the vocabulary is that one token, whatever the merges say (Llama 3).</summary>
    public bool IgnoreMerges { get; init; }
    /// <summary>Prefix of every symbol that does not start a word (WordPiece-style BPE, e.g. "##").</summary>
    public string? ContinuingSubwordPrefix { get; init; }
    /// <summary>Suffix of the last symbol of a word (e.g. "&lt;/w&gt;").</summary>
    public string? EndOfWordSuffix { get; init; }
}

/// <summary>
/// HF tokenizers' BPE model: a vocabulary plus ranked merges; a piece starts as one symbol per character (or per byte in
/// GPT-2's byte alphabet) and the pair with the lowest merge rank merges first (see <see cref="BytePairMerger"/>).
/// GPT-2's encoder.json + vocab.bpe, Llama 3, Qwen and Mistral's tokenizer.json are all this model.
/// </summary>
internal sealed class BpeModel : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabLookup;
    private readonly string?[] _tokens;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly BpeOptions _options;
    private readonly int? _unkId;
    /// <summary>Id of each byte's alphabet character, when every byte has one and no prefix/suffix applies (the fast byte-level path).</summary>
    private readonly int[]? _byteIds;
    /// <summary>The vocabulary by UTF-8 bytes, for <see cref="BpeOptions.IgnoreMerges"/> on byte-level input.</summary>
    private readonly Dictionary<byte[], int>? _byteVocab;
    private readonly int[] _byteFallbackIds = new int[256];
    /// <summary>Character input may be merged '▁'-word by '▁'-word (see <see cref="MetaspaceWords"/>); not with ignore_merges, which looks at whole pieces.</summary>
    private readonly bool _splitAtMetaspace;
    private readonly WordCache _cache = new();

    public BpeOptions Options => _options;
    public int VocabSize => _tokens.Length;
    /// <summary>The merges in rank order, as (left, right) token strings (what tokenizer.json's "merges" stores).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, BpeOptions options, string? sourcePath = null)
    {
        _vocab = vocab;
        _vocabLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _options = options;
        Merges = merges;
        int size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        _tokens = new string?[size];
        foreach (var (token, id) in vocab)
        {
            if (id < 0)
                throw new ModelFormatException(sourcePath, $"model.vocab: token '{token}' has negative id {id}");
            _tokens[id] = token;
        }
        if (options.UnkToken is string unk)
            _unkId = vocab.TryGetValue(unk, out int unkId) ? unkId : throw new ModelFormatException(sourcePath, $"model.unk_token '{unk}' is not in the vocabulary");

        int prefixLength = options.ContinuingSubwordPrefix?.Length ?? 0;
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int leftId) || !vocab.TryGetValue(right, out int rightId))
                throw new ModelFormatException(sourcePath, $"model.merges[{rank}]: '{left} {right}' uses a token that is not in the vocabulary");
            if (right.Length < prefixLength)
                throw new ModelFormatException(sourcePath, $"model.merges[{rank}]: '{right}' is shorter than the continuing-subword prefix");
            string mergedToken = left + right[prefixLength..];
            if (!vocab.TryGetValue(mergedToken, out int mergedId))
                throw new ModelFormatException(sourcePath, $"model.merges[{rank}]: the merged token '{mergedToken}' is not in the vocabulary");
            _merges.TryAdd(SpanLookup.PairKey(leftId, rightId), (rank, mergedId));
        }

        for (int b = 0; b < 256; b++)
            _byteFallbackIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _splitAtMetaspace = !options.IgnoreMerges && vocab.ContainsKey(MetaspaceWords.Whitespace.ToString()) && MetaspaceWords.AreIndependent(vocab.Keys);

        if (string.IsNullOrEmpty(options.ContinuingSubwordPrefix) && string.IsNullOrEmpty(options.EndOfWordSuffix))
        {
            var byteIds = new int[256];
            bool complete = true;
            for (int b = 0; b < 256 && complete; b++)
                complete = vocab.TryGetValue(ByteLevelAlphabet.ByteToChar[b].ToString(), out byteIds[b]);
            _byteIds = complete ? byteIds : null;
        }
        if (options.IgnoreMerges && _byteIds is not null)
        {
            _byteVocab = new Dictionary<byte[], int>(vocab.Count, ByteSequenceComparer.Instance);
            var bytes = new List<byte>();
            foreach (var (token, id) in vocab)
            {
                bytes.Clear();
                ByteLevelAlphabet.AppendBytes(token, bytes);
                _byteVocab.TryAdd(bytes.ToArray(), id);
            }
        }
    }

    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (!byteLevel && _splitAtMetaspace && piece.Length > WordCache.MaxPieceLength)
            foreach (var word in MetaspaceWords.Split(piece))
                TokenizeWord(word, byteLevel, ids);
        else
            TokenizeWord(piece, byteLevel, ids);
    }

    private void TokenizeWord(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (_cache.TryAppend(piece, ids))
            return;
        int start = ids.Count;
        if (!byteLevel)
            TokenizeChars(piece, ids);
        else if (_byteIds is not null)
            TokenizeBytes(piece, ids);
        else
            TokenizeChars(ByteLevelAlphabet.Encode(piece.ToString()), ids);
        _cache.Add(piece, ids, start);
    }

    /// <summary>Byte-level input: one symbol per UTF-8 byte, ids straight from the byte table.</summary>
    private void TokenizeBytes(ReadOnlySpan<char> piece, List<int> ids)
    {
        byte[] bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(piece.Length));
        MergeSymbol[]? rented = null;
        try
        {
            int length = Encoding.UTF8.GetBytes(piece, bytes);
            if (_byteVocab is not null && SpanLookup.ForBytes(_byteVocab).TryGetValue(bytes.AsSpan(0, length), out int whole))
            {
                ids.Add(whole);
                return;
            }
            Span<MergeSymbol> symbols = length <= 64 ? stackalloc MergeSymbol[length] : (rented = ArrayPool<MergeSymbol>.Shared.Rent(length)).AsSpan(0, length);
            for (int i = 0; i < length; i++)
                symbols[i] = new MergeSymbol(_byteIds![bytes[i]], i, i + 1);
            MergeAndEmit(symbols, ids);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            if (rented is not null)
                ArrayPool<MergeSymbol>.Shared.Return(rented);
        }
    }

    /// <summary>HF's <c>merge_word</c>: one symbol per character (with prefix/suffix), byte fallback or unknown for the rest.</summary>
    private void TokenizeChars(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_options.IgnoreMerges && _vocabLookup.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }
        string prefix = _options.ContinuingSubwordPrefix ?? "";
        string suffix = _options.EndOfWordSuffix ?? "";
        var symbols = new List<MergeSymbol>(word.Length);
        int unkId = -1, position = 0;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            CharClass.CodePointAt(word, i, out int units);
            var character = word.Slice(i, units);
            bool first = i == 0, last = i + units == word.Length;
            i += units;
            int id = LookUp(character, first ? "" : prefix, last ? suffix : "");
            if (id >= 0)
            {
                if (unkId >= 0)
                {
                    symbols.Add(new MergeSymbol(unkId, position, ++position));
                    unkId = -1;
                }
                symbols.Add(new MergeSymbol(id, position, ++position));
                continue;
            }
            if (_options.ByteFallback && TryByteFallback(character, first ? "" : prefix, last ? suffix : "", symbols, ref position))
                continue;
            if (_unkId is int unk)
            {
                // Without fusing, each unknown character is its own unknown token.
                if (unkId >= 0 && !_options.FuseUnk)
                    symbols.Add(new MergeSymbol(unkId, position, ++position));
                unkId = unk;
            }
        }
        if (unkId >= 0)
            symbols.Add(new MergeSymbol(unkId, position, ++position));
        MergeAndEmit(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols), ids);
    }

    private int LookUp(ReadOnlySpan<char> character, string prefix, string suffix)
    {
        if (prefix.Length == 0 && suffix.Length == 0)
            return _vocabLookup.TryGetValue(character, out int id) ? id : -1;
        return _vocab.TryGetValue(string.Concat(prefix, character, suffix), out int affixed) ? affixed : -1;
    }

    /// <summary>The "&lt;0xXX&gt;" tokens of a symbol's UTF-8 bytes (prefix and suffix included, as HF does), if all exist.</summary>
    private bool TryByteFallback(ReadOnlySpan<char> character, string prefix, string suffix, List<MergeSymbol> symbols, ref int position)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(string.Concat(prefix, character, suffix));
        foreach (byte b in bytes)
            if (_byteFallbackIds[b] < 0)
                return false;
        foreach (byte b in bytes)
            symbols.Add(new MergeSymbol(_byteFallbackIds[b], position, ++position));
        return true;
    }

    private void MergeAndEmit(Span<MergeSymbol> symbols, List<int> ids)
    {
        var rule = new RankedPairs(_merges);
        int count = BytePairMerger.Merge(symbols, ref rule);
        for (int i = 0; i < count; i++)
            ids.Add(symbols[i].Id);
    }

    /// <summary>Merges ranked by their line in the merges list.</summary>
    private readonly struct RankedPairs(Dictionary<long, (int Rank, int Merged)> merges) : IMergeRule
    {
        public bool TryMerge(in MergeSymbol left, in MergeSymbol right, out long priority, out int merged)
        {
            if (merges.TryGetValue(SpanLookup.PairKey(left.Id, right.Id), out var merge))
            {
                priority = merge.Rank;
                merged = merge.Merged;
                return true;
            }
            priority = 0;
            merged = -1;
            return false;
        }
    }
}
