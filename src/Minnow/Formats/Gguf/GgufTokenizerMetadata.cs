using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Formats.Gguf;

/// <summary>
/// The <c>tokenizer.*</c> keys a GGUF file carries for a loaded model's tokenizer and chat template, as llama.cpp's
/// converter writes them (tokenizer.ggml.model "llama" = SentencePiece-style pieces with scores and token types).
/// </summary>
public static class GgufTokenizerMetadata
{
    /// <summary>llama.cpp's token types.</summary>
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static IEnumerable<KeyValuePair<string, GgufValue>> From(LoadedModel loaded)
    {
        var keys = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue value) => keys.Add(new(key, value));
        switch (loaded.Tokenizer)
        {
            case null:
                break;
            case Llama2cTokenizer t:
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
                if (t.BosId is int bos) Add("tokenizer.ggml.bos_token_id", GgufValue.Of((uint)bos));
                if (t.EosId is int eos) Add("tokenizer.ggml.eos_token_id", GgufValue.Of((uint)eos));
                Add("tokenizer.ggml.add_bos_token", GgufValue.Of(true));
                Add("tokenizer.ggml.add_eos_token", GgufValue.Of(false));
                break;
            default:
                throw new InvalidInputException($"writing a {loaded.Tokenizer.GetType().Name} into GGUF is not supported yet");
        }
        if (loaded.ChatTemplate is not null)
            Add("tokenizer.chat_template", GgufValue.Of(loaded.ChatTemplate));
        return keys;
    }
}
