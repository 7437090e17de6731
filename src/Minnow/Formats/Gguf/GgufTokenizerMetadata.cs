using Minnow.Models;
using Minnow.Tokenizers;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.SentencePiece;
using Minnow.Tokenizers.Text;

namespace Minnow.Formats.Gguf;

/// <summary>
/// The <c>tokenizer.*</c> keys a GGUF file carries for a loaded model's tokenizer and chat template, as llama.cpp's
/// converter writes them: model "llama" (SentencePiece BPE pieces with scores and token types) for SentencePiece and
/// llama2.c tokenizers, model "gpt2" (byte-level BPE tokens, merges and the pre-tokenizer's name) for HF byte-level
/// BPE tokenizers. <see cref="GgufTokenizer"/> reads them back.
/// </summary>
public static class GgufTokenizerMetadata
{
    /// <summary>llama.cpp's token types (SentencePiece's piece types use the same numbers).</summary>
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Byte = 6;

    public static IEnumerable<KeyValuePair<string, GgufValue>> From(LoadedModel loaded) => From(loaded.Tokenizer, loaded.ChatTemplate);

    public static IEnumerable<KeyValuePair<string, GgufValue>> From(ITokenizer? tokenizer, string? chatTemplate)
    {
        var keys = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue value) => keys.Add(new(key, value));
        void Ids(int? bos, int? eos, int? unk, bool addBos)
        {
            if (bos is int b) Add("tokenizer.ggml.bos_token_id", GgufValue.Of((uint)b));
            if (eos is int e) Add("tokenizer.ggml.eos_token_id", GgufValue.Of((uint)e));
            if (unk is int u) Add("tokenizer.ggml.unknown_token_id", GgufValue.Of((uint)u));
            Add("tokenizer.ggml.add_bos_token", GgufValue.Of(addBos));
            Add("tokenizer.ggml.add_eos_token", GgufValue.Of(false));
        }
        switch (tokenizer)
        {
            case null:
                break;
            case Llama2cTokenizer t:
            {
                var tokens = new string[t.VocabSize];
                var scores = new float[t.VocabSize];
                var types = new int[t.VocabSize];
                for (int i = 0; i < t.VocabSize; i++)
                {
                    string piece = t.IdToToken(i);
                    bool isByte = piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal);
                    tokens[i] = t.IsSpecial(i) ? piece.Trim() : piece.Replace(' ', '▁');
                    scores[i] = t.Score(i);
                    types[i] = t.IsSpecial(i) ? (piece.Trim() == "<unk>" ? Unknown : Control) : isByte ? Byte : Normal;
                }
                Add("tokenizer.ggml.model", GgufValue.Of("llama"));
                Add("tokenizer.ggml.tokens", GgufValue.Of(tokens));
                Add("tokenizer.ggml.scores", GgufValue.Of(scores));
                Add("tokenizer.ggml.token_type", GgufValue.Of(types));
                Ids(t.BosId, t.EosId, Array.FindIndex(tokens, x => x == "<unk>") is int unk && unk >= 0 ? unk : null, addBos: true);
                break;
            }
            case SentencePieceTokenizer s when s.Model.Algorithm == SentencePieceAlgorithm.Bpe:
                Add("tokenizer.ggml.model", GgufValue.Of("llama"));
                Add("tokenizer.ggml.tokens", GgufValue.Of(s.Model.Pieces.Select(p => p.Piece).ToArray()));
                Add("tokenizer.ggml.scores", GgufValue.Of(s.Model.Pieces.Select(p => p.Score).ToArray()));
                Add("tokenizer.ggml.token_type", GgufValue.Of(s.Model.Pieces.Select(p => (int)p.Type).ToArray()));
                Add("tokenizer.ggml.add_space_prefix", GgufValue.Of(s.Model.AddDummyPrefix));
                Ids(s.BosId, s.EosId, s.Model.UnkId, addBos: true);
                break;
            case PipelineTokenizer { Model: BpeModel bpe } p when PreName(p) is string pre:
            {
                var tokens = new string[p.VocabSize];
                var types = new int[p.VocabSize];
                for (int i = 0; i < p.VocabSize; i++)
                {
                    tokens[i] = p.IdToToken(i);
                    var added = p.AddedVocabulary.ById(i);
                    types[i] = added is null ? Normal : added.Special ? Control : UserDefined;
                }
                Add("tokenizer.ggml.model", GgufValue.Of("gpt2"));
                Add("tokenizer.ggml.pre", GgufValue.Of(pre));
                Add("tokenizer.ggml.tokens", GgufValue.Of(tokens));
                Add("tokenizer.ggml.token_type", GgufValue.Of(types));
                Add("tokenizer.ggml.merges", GgufValue.Of(bpe.Merges.Select(m => $"{m.Left} {m.Right}").ToArray()));
                bool addsBos = p.BosId is int bos && p.Encode("a", addSpecial: true) is [var first, ..] && first == bos;
                Ids(p.BosId, p.EosId, null, addsBos);
                break;
            }
            default:
                throw new InvalidInputException($"this model's tokenizer ({tokenizer.GetType().Name}) has no GGUF form Minnow can write");
        }
        if (chatTemplate is not null)
            Add("tokenizer.chat_template", GgufValue.Of(chatTemplate));
        return keys;
    }

    /// <summary>llama.cpp's name for a byte-level pipeline's split rules, or null when it has none.</summary>
    private static string? PreName(PipelineTokenizer p) => p.PreTokenizer switch
    {
        ByteLevelPreTokenizer { UseRegex: true } => "gpt-2",
        SequencePreTokenizer { Steps: [SplitPreTokenizer { Splitter: GptSplitter { Kind: GptSplitter.Flavor.Cl100k } }, ByteLevelPreTokenizer { UseRegex: false }] } => "llama-bpe",
        SequencePreTokenizer { Steps: [SplitPreTokenizer { Splitter: GptSplitter { Kind: GptSplitter.Flavor.Qwen } }, ByteLevelPreTokenizer { UseRegex: false }] } => "qwen2",
        SequencePreTokenizer { Steps: [DigitsPreTokenizer { IndividualDigits: true }, ByteLevelPreTokenizer { UseRegex: true }] } => "smollm",
        _ => null,
    };
}
