using System.Text;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Models;

/// <summary>
/// The unigram language model tokenizer (Kudo 2018; SentencePiece's and HF's <c>Unigram</c>): the segmentation of a
/// piece that maximises the sum of its tokens' log-probabilities, found by Viterbi over every vocabulary match (a
/// forward pass over character positions, then a walk back). A character no token starts with becomes the unknown
/// token with score min - 10; consecutive unknowns fuse into one, or become "&lt;0xXX&gt;" byte tokens with byte fallback.
/// Ties keep the earliest-found path, which is the one with the longest token starting first, as both references do.
/// </summary>
internal sealed class UnigramModel : ITokenModel
{
    /// <summary>SentencePiece's penalty below the lowest score for an unknown character.</summary>
    public const double UnknownPenalty = 10.0;

    private readonly string[] _pieces;
    private readonly double[] _scores;
    private readonly Dictionary<string, int> _ids;
    /// <summary>Every prefix of a matchable piece, mapped to that piece's id when the prefix is itself one, else -1: a trie in a hash table.</summary>
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _prefixes;
    private readonly int _maxPieceLength;
    private readonly int? _unkId;
    private readonly double _unkScore;
    private readonly bool _byteFallback;
    private readonly bool _singlePrecision;
    private readonly int[] _byteIds = new int[256];
    private readonly WordCache _cache = new();

    public int VocabSize => _pieces.Length;

    /// <param name="pieces">Token strings by id.</param>
    /// <param name="scores">Log-probabilities by id.</param>
    /// <param name="unkId">The unknown token, used for characters no piece covers (without it such text cannot be encoded).</param>
    /// <param name="byteFallback">Spell unknown characters as "&lt;0xXX&gt;" byte tokens instead.</param>
    /// <param name="matchable">Which ids Viterbi may use (SentencePiece leaves out control, unknown, byte and unused pieces); null means all.</param>
    /// <param name="singlePrecision">Add scores in float32, as SentencePiece does (HF adds in float64).</param>
    public UnigramModel(string[] pieces, double[] scores, int? unkId, bool byteFallback, Func<int, bool>? matchable = null, bool singlePrecision = false)
    {
        _pieces = pieces;
        _scores = scores;
        _unkId = unkId;
        _byteFallback = byteFallback;
        _singlePrecision = singlePrecision;
        _ids = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        var prefixes = new Dictionary<string, int>(StringComparer.Ordinal);
        double minScore = double.MaxValue;
        for (int id = 0; id < pieces.Length; id++)
        {
            _ids.TryAdd(pieces[id], id);
            if (matchable is not null && !matchable(id) || pieces[id].Length == 0)
                continue;
            minScore = Math.Min(minScore, scores[id]);
            _maxPieceLength = Math.Max(_maxPieceLength, pieces[id].Length);
            for (int length = 1; length < pieces[id].Length; length++)
                prefixes.TryAdd(pieces[id][..length], -1);
            prefixes[pieces[id]] = prefixes.TryGetValue(pieces[id], out int existing) && existing >= 0 ? existing : id;
        }
        _prefixes = prefixes.GetAlternateLookup<ReadOnlySpan<char>>();
        _unkScore = (minScore == double.MaxValue ? 0 : minScore) - UnknownPenalty;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = _ids.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
    }

    public string? IdToToken(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : null;

    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (_cache.TryAppend(piece, ids))
            return;
        int start = ids.Count;
        string text = byteLevel ? ByteLevelAlphabet.Encode(piece.ToString()) : piece.ToString();
        foreach (var (id, from, to) in Viterbi(text))
        {
            bool unknown = id == _unkId;
            if (unknown && _byteFallback && TryBytes(text.AsSpan(from, to - from), ids))
                continue;
            // Consecutive unknown characters are one unknown token.
            if (unknown && ids.Count > start && ids[^1] == id && !_byteFallback)
                continue;
            ids.Add(id);
        }
        _cache.Add(piece, ids, start);
    }

    private bool TryBytes(ReadOnlySpan<char> text, List<int> ids)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToArray());
        foreach (byte b in bytes)
            if (_byteIds[b] < 0)
                return false;
        foreach (byte b in bytes)
            ids.Add(_byteIds[b]);
        return true;
    }

    /// <summary>The best segmentation as (id, start, end) in text order.</summary>
    internal List<(int Id, int Start, int End)> Viterbi(string text)
    {
        int n = text.Length;
        var score = new double[n + 1];
        var from = new int[n + 1];
        var token = new int[n + 1];
        Array.Fill(from, -1);
        for (int start = 0; start < n;)
        {
            CharClass.CodePointAt(text, start, out int units);
            bool reachable = start == 0 || from[start] >= 0;
            if (!reachable)
            {
                start += units;
                continue;
            }
            bool hasSingle = false;
            for (int end = start + 1; end <= Math.Min(n, start + _maxPieceLength); end++)
            {
                if (!_prefixes.TryGetValue(text.AsSpan(start, end - start), out int id))
                    break;
                if (id < 0)
                    continue;
                Relax(start, end, id, _scores[id]);
                hasSingle |= end - start == units;
            }
            if (!hasSingle && _unkId is int unk)
                Relax(start, start + units, unk, _unkScore);
            start += units;
        }

        void Relax(int start, int end, int id, double tokenScore)
        {
            double candidate = _singlePrecision ? (float)((float)score[start] + (float)tokenScore) : score[start] + tokenScore;
            if (from[end] < 0 || candidate > score[end])
            {
                score[end] = candidate;
                from[end] = start;
                token[end] = id;
            }
        }

        var path = new List<(int, int, int)>();
        if (from[n] < 0)
            throw new InvalidInputException($"text '{text}' cannot be segmented: the vocabulary lacks a character and there is no unknown token");
        for (int end = n; end > 0; end = from[end])
            path.Add((token[end], from[end], end));
        path.Reverse();
        return path;
    }
}
