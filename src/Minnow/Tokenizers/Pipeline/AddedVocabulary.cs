using System.Buffers;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Pipeline;

/// <summary>
/// A token matched in the text before anything else (HF's <c>added_tokens</c>). <see cref="Special"/> tokens are the
/// control tokens (skipped by <c>skipSpecial</c>, and not matched when special-token parsing is off).
/// <see cref="Normalized"/> tokens are matched in normalized text, the others in the raw text.
/// <see cref="SingleWord"/> matches only between non-word characters; <see cref="LStrip"/>/<see cref="RStrip"/> swallow
/// the whitespace on that side.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false);

/// <summary>A stretch of a text: either an added token's id, or text to tokenize.</summary>
internal readonly record struct Segment(int Start, int End, int TokenId)
{
    public bool IsToken => TokenId >= 0;
}

/// <summary>
/// Finds added tokens in text the way HF's AddedVocabulary does: the leftmost match, the longest there
/// (Aho-Corasick's leftmost-longest), then single_word/lstrip/rstrip applied to it.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<int, AddedToken> _byId = [];
    private readonly Dictionary<string, AddedToken> _byContent = new(StringComparer.Ordinal);
    private readonly Matcher _raw;
    private readonly Matcher _normalized;

    public IReadOnlyCollection<AddedToken> Tokens => _byId.Values;
    public bool HasNormalizedTokens => _normalized.Count > 0;

    public AddedVocabulary(IEnumerable<AddedToken> tokens)
    {
        foreach (var token in tokens)
        {
            _byId[token.Id] = token;
            _byContent.TryAdd(token.Content, token);
        }
        _raw = new Matcher(_byId.Values.Where(t => !t.Normalized));
        _normalized = new Matcher(_byId.Values.Where(t => t.Normalized));
    }

    public AddedToken? ById(int id) => _byId.GetValueOrDefault(id);
    public AddedToken? ByContent(string content) => _byContent.GetValueOrDefault(content);

    /// <summary>Splits <paramref name="text"/> at its raw (not normalized) added tokens.</summary>
    public void SplitRaw(string text, bool parseSpecial, List<Segment> output) => Split(text, _raw, parseSpecial, output);

    /// <summary>Splits normalized text at its normalized added tokens.</summary>
    public void SplitNormalized(string text, bool parseSpecial, List<Segment> output) => Split(text, _normalized, parseSpecial, output);

    private static void Split(string text, Matcher matcher, bool parseSpecial, List<Segment> output)
    {
        int done = 0, searchFrom = 0;
        while (matcher.Count > 0 && matcher.FindLeftmostLongest(text, searchFrom, out int start, out var token))
        {
            int stop = start + token.Content.Length;
            searchFrom = stop;
            if (token.Special && !parseSpecial)
                continue;
            if (token.SingleWord)
            {
                bool wordBefore = start > 0 && CharClass.IsAlphanumeric(CodePointBefore(text, start));
                bool wordAfter = stop < text.Length && CharClass.IsAlphanumeric(CharClass.CodePointAt(text, stop, out _));
                if (wordBefore || wordAfter)
                    continue;
            }
            if (token.LStrip)
            {
                int newStart = start;
                while (newStart > 0 && CharClass.IsWhiteSpace(text[newStart - 1]))
                    newStart--;
                // Whitespace an earlier match already took stays with it.
                start = Math.Max(newStart, done);
            }
            if (token.RStrip)
                while (stop < text.Length && CharClass.IsWhiteSpace(text[stop]))
                    stop++;
            if (start > done)
                output.Add(new Segment(done, start, -1));
            output.Add(new Segment(start, stop, token.Id));
            done = stop;
        }
        if (done < text.Length)
            output.Add(new Segment(done, text.Length, -1));
    }

    private static int CodePointBefore(string text, int index) =>
        index >= 2 && char.IsLowSurrogate(text[index - 1]) && char.IsHighSurrogate(text[index - 2])
            ? char.ConvertToUtf32(text[index - 2], text[index - 1]) : text[index - 1];

    /// <summary>A character trie of token contents, entered only at characters that start some token.</summary>
    private sealed class Matcher
    {
        private sealed class Node
        {
            public Dictionary<char, Node>? Children;
            public AddedToken? Token;
        }

        private readonly Node _root = new();
        private readonly SearchValues<char> _firstChars;
        public int Count { get; }

        public Matcher(IEnumerable<AddedToken> tokens)
        {
            var first = new HashSet<char>();
            foreach (var token in tokens)
            {
                if (token.Content.Length == 0)
                    continue;
                var node = _root;
                foreach (char c in token.Content)
                {
                    node.Children ??= [];
                    if (!node.Children.TryGetValue(c, out var child))
                        node.Children[c] = child = new Node();
                    node = child;
                }
                node.Token ??= token;
                first.Add(token.Content[0]);
                Count++;
            }
            _firstChars = SearchValues.Create(first.ToArray());
        }

        public bool FindLeftmostLongest(string text, int from, out int start, out AddedToken token)
        {
            var span = text.AsSpan();
            while (from < text.Length)
            {
                int at = span[from..].IndexOfAny(_firstChars);
                if (at < 0)
                    break;
                start = from + at;
                AddedToken? longest = null;
                Node? node = _root;
                for (int i = start; i < text.Length && node.Children is not null && node.Children.TryGetValue(text[i], out node); i++)
                    if (node.Token is not null)
                        longest = node.Token;
                if (longest is not null)
                {
                    token = longest;
                    return true;
                }
                from = start + 1;
            }
            start = -1;
            token = null!;
            return false;
        }
    }
}
