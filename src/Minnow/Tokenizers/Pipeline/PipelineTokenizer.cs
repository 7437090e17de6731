using System.Runtime.InteropServices;
using Minnow.Tokenizers.Models;

namespace Minnow.Tokenizers.Pipeline;

/// <summary>
/// A tokenizer built from HF tokenizers' stages: added tokens are cut out of the text first, each remaining segment is
/// normalized (then cut at normalized added tokens), pre-tokenized into pieces, and each piece goes through the model
/// (BPE, tiktoken ranks, Unigram or WordPiece); the post-processor adds the template's special tokens on request.
/// Decoding maps ids to token strings and runs the decoders. HF tokenizer.json, GPT-2's encoder.json/vocab.bpe,
/// tiktoken files and the trainer's output all load into this one class.
/// </summary>
public sealed class PipelineTokenizer : ITokenizer
{
    private readonly ITokenModel _model;
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly IPostProcessor? _postProcessor;
    private readonly IDecoder? _decoder;
    private readonly AddedVocabulary _added;
    private readonly bool _parseSpecialByDefault;
    /// <summary>The last pre-tokenizer is ByteLevel and left the byte mapping to the model.</summary>
    private readonly bool _byteLevelInput;

    internal ITokenModel Model => _model;
    internal INormalizer? Normalizer => _normalizer;
    internal IPreTokenizer? PreTokenizer => _preTokenizer;
    internal IPostProcessor? PostProcessor => _postProcessor;
    internal IDecoder? Decoder => _decoder;
    internal AddedVocabulary AddedVocabulary => _added;

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }

    internal PipelineTokenizer(ITokenModel model, INormalizer? normalizer, IPreTokenizer? preTokenizer, IPostProcessor? postProcessor,
        IDecoder? decoder, IEnumerable<AddedToken> addedTokens, bool parseSpecialByDefault, int? bosId = null, int? eosId = null)
    {
        _model = model;
        _normalizer = normalizer;
        (_preTokenizer, _byteLevelInput) = LeaveByteMappingToModel(preTokenizer);
        _postProcessor = postProcessor;
        _decoder = decoder;
        _added = new AddedVocabulary(addedTokens);
        _parseSpecialByDefault = parseSpecialByDefault;
        VocabSize = Math.Max(model.VocabSize, _added.Tokens.Count == 0 ? 0 : _added.Tokens.Max(t => t.Id) + 1);
        var (first, last) = postProcessor?.AddedIds ?? (null, null);
        BosId = bosId ?? first;
        EosId = eosId ?? (last != first ? last : null);
    }

    /// <summary>A trailing ByteLevel step need not copy each piece into the byte alphabet: the model reads the bytes directly.</summary>
    private static (IPreTokenizer?, bool) LeaveByteMappingToModel(IPreTokenizer? preTokenizer) => preTokenizer switch
    {
        ByteLevelPreTokenizer { MapsBytes: true } byteLevel => (byteLevel.WithoutMapping(), true),
        SequencePreTokenizer { Steps: [.., ByteLevelPreTokenizer { MapsBytes: true } last] } sequence =>
            (new SequencePreTokenizer([.. sequence.Steps.Take(sequence.Steps.Count - 1), last.WithoutMapping()]), true),
        _ => (preTokenizer, false),
    };

    public int[] Encode(string text, bool addSpecial = false, bool? parseSpecial = null)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        bool parse = parseSpecial ?? _parseSpecialByDefault;
        var segments = new List<Segment>();
        _added.SplitRaw(text, parse, segments);
        var pieces = new List<Piece>();
        var inner = new List<Segment>();
        foreach (var segment in segments)
        {
            if (segment.IsToken)
            {
                ids.Add(segment.TokenId);
                continue;
            }
            string normalized = text[segment.Start..segment.End];
            if (_normalizer is not null)
                normalized = _normalizer.Normalize(normalized);
            inner.Clear();
            if (_added.HasNormalizedTokens)
                _added.SplitNormalized(normalized, parse, inner);
            else if (normalized.Length > 0)
                inner.Add(new Segment(0, normalized.Length, -1));
            foreach (var part in inner)
            {
                if (part.IsToken)
                {
                    ids.Add(part.TokenId);
                    continue;
                }
                var piece = new Piece(normalized, part.Start, part.End - part.Start, segment.Start == 0 && part.Start == 0);
                pieces.Clear();
                if (_preTokenizer is null)
                    pieces.Add(piece);
                else
                    _preTokenizer.PreTokenize(piece, pieces);
                foreach (var p in CollectionsMarshal.AsSpan(pieces))
                    _model.Tokenize(p.Span, _byteLevelInput, ids);
            }
        }
        _postProcessor?.Process(ids, addSpecial);
        return ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            var added = _added.ById(id);
            if (added is not null)
            {
                if (!(skipSpecial && added.Special))
                    tokens.Add(added.Content);
                continue;
            }
            tokens.Add(_model.IdToToken(id) ?? throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {VocabSize})"));
        }
        if (_decoder is null)
            return string.Join(' ', tokens);
        _decoder.Decode(tokens);
        return string.Concat(tokens);
    }

    public string IdToToken(int id) =>
        _added.ById(id)?.Content ?? _model.IdToToken(id) ?? throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {VocabSize})");

    public int? TokenToId(string token) => _added.ByContent(token)?.Id ?? _model.TokenToId(token);

    public bool IsSpecial(int id) => _added.ById(id)?.Special ?? false;
}
