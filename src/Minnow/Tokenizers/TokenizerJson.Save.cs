using System.Text;
using System.Text.Json;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;

namespace Minnow.Tokenizers;

public static partial class TokenizerJson
{
    /// <summary>
    /// Writes a BPE pipeline tokenizer (what the trainers make, or a loaded byte-level BPE) as an HF tokenizer.json that
    /// HF tokenizers and <see cref="Load"/> read back. The file is written to a temporary name and renamed.
    /// Components outside that set are an <see cref="InvalidInputException"/>.
    /// </summary>
    public static void Save(ITokenizer tokenizer, string path)
    {
        if (tokenizer is not PipelineTokenizer { Model: BpeModel model } pipeline || pipeline.Normalizer is not null || pipeline.PostProcessor is not null)
            throw new InvalidInputException("only BPE tokenizers without normalizer or post-processor (as the trainers make) can be saved as tokenizer.json");
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            foreach (var token in pipeline.AddedVocabulary.Tokens.OrderBy(t => t.Id))
            {
                json.WriteStartObject();
                json.WriteNumber("id", token.Id);
                json.WriteString("content", token.Content);
                json.WriteBoolean("single_word", token.SingleWord);
                json.WriteBoolean("lstrip", token.LStrip);
                json.WriteBoolean("rstrip", token.RStrip);
                json.WriteBoolean("normalized", token.Normalized);
                json.WriteBoolean("special", token.Special);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");
            WritePreTokenizer(json, pipeline.PreTokenizer);
            json.WriteNull("post_processor");
            WriteDecoder(json, "decoder", pipeline.Decoder);
            WriteModel(json, model);
            json.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true);
    }

    private static void WritePreTokenizer(Utf8JsonWriter json, IPreTokenizer? preTokenizer)
    {
        switch (preTokenizer)
        {
            case null:
                json.WriteNull("pre_tokenizer");
                break;
            case ByteLevelPreTokenizer byteLevel:
                json.WriteStartObject("pre_tokenizer");
                json.WriteString("type", "ByteLevel");
                json.WriteBoolean("add_prefix_space", byteLevel.AddPrefixSpace);
                json.WriteBoolean("trim_offsets", true);
                json.WriteBoolean("use_regex", byteLevel.UseRegex);
                json.WriteEndObject();
                break;
            default:
                throw new InvalidInputException($"saving a {preTokenizer.GetType().Name} pre-tokenizer is not supported");
        }
    }

    private static void WriteDecoder(Utf8JsonWriter json, string? name, IDecoder? decoder)
    {
        if (decoder is null)
        {
            json.WriteNull(name!);
            return;
        }
        if (name is null)
            json.WriteStartObject();
        else
            json.WriteStartObject(name);
        switch (decoder)
        {
            case ByteLevelDecoder:
                json.WriteString("type", "ByteLevel");
                json.WriteBoolean("add_prefix_space", true);
                json.WriteBoolean("trim_offsets", true);
                json.WriteBoolean("use_regex", true);
                break;
            case ByteFallbackDecoder:
                json.WriteString("type", "ByteFallback");
                break;
            case FuseDecoder:
                json.WriteString("type", "Fuse");
                break;
            case SequenceDecoder sequence:
                json.WriteString("type", "Sequence");
                json.WriteStartArray("decoders");
                foreach (var step in sequence.Steps)
                    WriteDecoder(json, null, step);
                json.WriteEndArray();
                break;
            default:
                throw new InvalidInputException($"saving a {decoder.GetType().Name} decoder is not supported");
        }
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, BpeModel model)
    {
        var options = model.Options;
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        WriteOptional(json, "unk_token", options.UnkToken);
        WriteOptional(json, "continuing_subword_prefix", options.ContinuingSubwordPrefix);
        WriteOptional(json, "end_of_word_suffix", options.EndOfWordSuffix);
        json.WriteBoolean("fuse_unk", options.FuseUnk);
        json.WriteBoolean("byte_fallback", options.ByteFallback);
        json.WriteBoolean("ignore_merges", options.IgnoreMerges);
        json.WriteStartObject("vocab");
        for (int id = 0; id < model.VocabSize; id++)
            if (model.IdToToken(id) is string token)
                json.WriteNumber(token, id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in model.Merges)
        {
            json.WriteStartArray();
            json.WriteStringValue(left);
            json.WriteStringValue(right);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }
}
