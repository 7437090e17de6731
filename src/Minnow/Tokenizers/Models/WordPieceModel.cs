namespace Minnow.Tokenizers.Models;

/// <summary>
/// BERT's WordPiece: the longest vocabulary prefix of a word, then the longest "##"-prefixed continuation, and so on;
/// a word that cannot be covered (or is longer than <c>max_input_chars_per_word</c>) is the unknown token.
/// </summary>
internal sealed class WordPieceModel : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _tokens;
    private readonly int _unkId;

    public string Prefix { get; }
    public int MaxInputCharsPerWord { get; }
    public int VocabSize => _tokens.Length;

    public WordPieceModel(Dictionary<string, int> vocab, string unkToken, string prefix, int maxInputCharsPerWord, string? sourcePath = null)
    {
        _vocab = vocab;
        _tokens = new string?[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab)
            _tokens[id] = token;
        _unkId = vocab.TryGetValue(unkToken, out int unk) ? unk : throw new ModelFormatException(sourcePath, $"model.unk_token '{unkToken}' is not in the vocabulary");
        Prefix = prefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;
    }

    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (piece.IsEmpty)
            return;
        string word = piece.ToString();
        if (CodePoints(word) > MaxInputCharsPerWord)
        {
            ids.Add(_unkId);
            return;
        }
        int first = ids.Count;
        for (int start = 0; start < word.Length;)
        {
            int found = -1, end = word.Length;
            while (end > start)
            {
                string candidate = start > 0 ? Prefix + word[start..end] : word[start..end];
                if (_vocab.TryGetValue(candidate, out found))
                    break;
                found = -1;
                end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (found < 0)
            {
                ids.RemoveRange(first, ids.Count - first);
                ids.Add(_unkId);
                return;
            }
            ids.Add(found);
            start = end;
        }
    }

    private static int CodePoints(string s)
    {
        int count = 0;
        for (int i = 0; i < s.Length; i++, count++)
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                i++;
        return count;
    }
}

/// <summary>HF's WordLevel: each piece is one vocabulary token, or the unknown token.</summary>
internal sealed class WordLevelModel(Dictionary<string, int> vocab, int unkId) : ITokenModel
{
    private readonly string?[] _tokens = BuildTokens(vocab);

    private static string?[] BuildTokens(Dictionary<string, int> vocab)
    {
        var tokens = new string?[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab)
            tokens[id] = token;
        return tokens;
    }

    public int VocabSize => _tokens.Length;
    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;
    public int? TokenToId(string token) => vocab.TryGetValue(token, out int id) ? id : null;

    public void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (!piece.IsEmpty)
            ids.Add(vocab.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(piece, out int id) ? id : unkId);
    }
}
