using System.Text.Json;
using Minnow.Tokenizers;
using Minnow.Tokenizers.SentencePiece;

namespace Minnow.Formats.Gguf;

/// <summary>
/// The tokenizer a GGUF file describes in its <c>tokenizer.ggml.*</c> keys, built on Minnow's own tokenizers:
/// model "llama" is a SentencePiece BPE vocabulary (pieces, scores, token types), model "gpt2" a byte-level BPE
/// whose split rules <c>tokenizer.ggml.pre</c> names — built as the equivalent HF tokenizer.json pipeline.
/// </summary>
public static class GgufTokenizer
{
    /// <summary>The tokenizer of <paramref name="f"/>, or null when it carries none.</summary>
    public static ITokenizer? Read(GgufFile f)
    {
        string? model = f.GetString("tokenizer.ggml.model");
        if (model is null or "none")
            return null;
        var tokens = f.GetArray<string>("tokenizer.ggml.tokens") ?? throw new ModelFormatException(f.Path, "tokenizer.ggml.tokens is missing");
        var types = f.GetIntArray("tokenizer.ggml.token_type");
        if (types is not null && types.Length != tokens.Length)
            throw new ModelFormatException(f.Path, $"tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
        return model switch
        {
            "llama" => SentencePiece(f, tokens, types),
            "gpt2" => ByteLevelBpe(f, tokens, types),
            _ => throw new ModelFormatException(f.Path, $"unsupported tokenizer.ggml.model '{model}' (supported: llama, gpt2)"),
        };
    }

    private static ITokenizer SentencePiece(GgufFile f, string[] tokens, int[]? types)
    {
        var scores = f.GetArray<float>("tokenizer.ggml.scores");
        if (scores is not null && scores.Length != tokens.Length)
            throw new ModelFormatException(f.Path, $"tokenizer.ggml.scores has {scores.Length} entries for {tokens.Length} tokens");
        var pieces = new (string, float, PieceType)[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            int type = types?[i] ?? 1;
            if (type is < 1 or > 6)
                throw new ModelFormatException(f.Path, $"token {i} has unknown token type {type}");
            pieces[i] = (tokens[i], scores?[i] ?? 0, (PieceType)type);
        }
        int Id(string key, int fallback)
        {
            int id = f.GetInt(key) ?? fallback;
            return id < tokens.Length ? id : throw new ModelFormatException(f.Path, $"{key} {id} is outside the {tokens.Length} tokens");
        }
        int unk = Id("tokenizer.ggml.unknown_token_id", 0);
        if (pieces[unk].Item3 != PieceType.Unknown)
            pieces[unk] = (pieces[unk].Item1, pieces[unk].Item2, PieceType.Unknown);
        var spm = new SentencePieceModel
        {
            Pieces = pieces,
            Algorithm = SentencePieceAlgorithm.Bpe,
            ByteFallback = pieces.Any(p => p.Item3 == PieceType.Byte),
            UnkId = unk,
            BosId = Id("tokenizer.ggml.bos_token_id", 1),
            EosId = Id("tokenizer.ggml.eos_token_id", 2),
            NormalizerName = "identity",
            // llama.cpp's SentencePiece tokenizer keeps runs of spaces (Llama's normalizer does not collapse them).
            RemoveExtraWhitespaces = false,
            AddDummyPrefix = f.GetBool("tokenizer.ggml.add_space_prefix") ?? true,
        };
        return new SentencePieceTokenizer(spm, f.Path);
    }

    /// <summary>llama.cpp's pre-tokenizer names → the split rules of the HF tokenizer.json they stand for.</summary>
    private static void WritePreTokenizer(Utf8JsonWriter w, string pre, string path)
    {
        const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        void ByteLevel(bool useRegex)
        {
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", useRegex);
            w.WriteEndObject();
        }
        void Sequence(Action first, bool byteLevelRegex)
        {
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            first();
            ByteLevel(byteLevelRegex);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        void Split(string regex)
        {
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", regex);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
        }
        w.WritePropertyName("pre_tokenizer");
        switch (pre)
        {
            case "default" or "gpt-2" or "gpt2" or "olmo" or "phi-2" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de":
                ByteLevel(useRegex: true);
                break;
            case "llama3" or "llama-bpe" or "llama-v3" or "dbrx" or "smaug-bpe":
                Sequence(() => Split(Llama3), byteLevelRegex: false);
                break;
            case "qwen2" or "deepseek-r1-qwen":
                Sequence(() => Split(Qwen2), byteLevelRegex: false);
                break;
            case "smollm" or "starcoder" or "refact" or "command-r" or "codeshell" or "exaone" or "minerva-7b":
                Sequence(() =>
                {
                    w.WriteStartObject();
                    w.WriteString("type", "Digits");
                    w.WriteBoolean("individual_digits", true);
                    w.WriteEndObject();
                }, byteLevelRegex: true);
                break;
            default:
                throw new ModelFormatException(path, $"unsupported tokenizer.ggml.pre '{pre}': pass a tokenizer.json with --tokenizer");
        }
    }

    private static ITokenizer ByteLevelBpe(GgufFile f, string[] tokens, int[]? types)
    {
        var merges = f.GetArray<string>("tokenizer.ggml.merges") ?? throw new ModelFormatException(f.Path, "tokenizer.ggml.merges is missing");
        string pre = f.GetString("tokenizer.ggml.pre") ?? "default";
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            // Control (3) and user-defined (4) tokens are matched in text before splitting, as llama.cpp does.
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < tokens.Length; i++)
            {
                int type = types?[i] ?? 1;
                if (type is not (3 or 4))
                    continue;
                w.WriteStartObject();
                w.WriteNumber("id", i);
                w.WriteString("content", tokens[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", type == 4);
                w.WriteBoolean("special", type == 3);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            // Qwen's tokenizer.json composes text to NFC first; GGUF has no key for it, so the pre-tokenizer name implies it.
            if (pre is "qwen2" or "deepseek-r1-qwen")
            {
                w.WriteStartObject("normalizer");
                w.WriteString("type", "NFC");
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("normalizer");
            }
            WritePreTokenizer(w, pre, f.Path);
            if (f.GetBool("tokenizer.ggml.add_bos_token") == true && f.GetInt("tokenizer.ggml.bos_token_id") is int bos && bos < tokens.Length)
            {
                w.WriteStartObject("post_processor");
                w.WriteString("type", "TemplateProcessing");
                void Template(string name, params string[] sequences)
                {
                    w.WriteStartArray(name);
                    foreach (string sequence in sequences)
                    {
                        w.WriteStartObject();
                        w.WriteStartObject("SpecialToken");
                        w.WriteString("id", tokens[bos]);
                        w.WriteNumber("type_id", 0);
                        w.WriteEndObject();
                        w.WriteEndObject();
                        w.WriteStartObject();
                        w.WriteStartObject("Sequence");
                        w.WriteString("id", sequence);
                        w.WriteNumber("type_id", 0);
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                Template("single", "A");
                Template("pair", "A", "B");
                w.WriteStartObject("special_tokens");
                w.WriteStartObject(tokens[bos]);
                w.WriteString("id", tokens[bos]);
                w.WriteStartArray("ids");
                w.WriteNumberValue(bos);
                w.WriteEndArray();
                w.WriteStartArray("tokens");
                w.WriteStringValue(tokens[bos]);
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("post_processor");
            }
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            // Llama 3's tokenizer keeps whole words that are in the vocabulary without merging (HF ignore_merges).
            w.WriteBoolean("ignore_merges", pre is "llama3" or "llama-bpe" or "llama-v3");
            w.WriteStartObject("vocab");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < tokens.Length; i++)
                if (seen.Add(tokens[i]))
                    w.WriteNumber(tokens[i], i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (string merge in merges)
                w.WriteStringValue(merge);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        string? Token(string key) => f.GetInt(key) is int id && (uint)id < (uint)tokens.Length ? tokens[id] : null;
        return TokenizerJson.Parse(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), f.Path,
            Token("tokenizer.ggml.bos_token_id"), Token("tokenizer.ggml.eos_token_id"));
    }
}
