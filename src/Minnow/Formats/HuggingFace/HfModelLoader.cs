using System.Text.Json;
using Minnow.Formats.Safetensors;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Formats.HuggingFace;

/// <summary>
/// Opens a HF model folder: <c>config.json</c> and the safetensors weights (single or sharded) are required; the
/// tokenizer (<c>tokenizer.json</c> …), <c>tokenizer_config.json</c> (special tokens, chat template) and
/// <c>generation_config.json</c> (EOS ids, sampling defaults) are optional — without a tokenizer, ids go in and out.
/// </summary>
public static class HfModelLoader
{
    public static bool IsModelFolder(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, "config.json"));

    public static LoadedModel Load(string folder, ModelLoadOptions options)
    {
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new ModelFormatException(folder, "not a model folder: config.json is missing");
        var config = HfConfig.Read(configPath);
        var checkpoint = SafetensorsCheckpoint.Open(folder);
        try
        {
            var tensorTypes = checkpoint.Entries.GroupBy(e => e.DType.ToString()).ToDictionary(g => g.Key, g => g.Count());
            ILanguageModel model = HfWeights.Build(checkpoint, config) switch
            {
                Gpt2Weights g => new Gpt2Model(config, g, options.Threads, checkpoint),
                LlamaWeights l => new LlamaModel(config, l, options.Threads, checkpoint),
                _ => throw new InvalidOperationException("unreachable"),
            };
            try
            {
                var special = ReadTokenizerConfig(Path.Combine(folder, "tokenizer_config.json"));
                var generation = ReadGenerationConfig(Path.Combine(folder, "generation_config.json"));
                ITokenizer? tokenizer = null;
                string? tokenizerPath = options.TokenizerPath ?? (HasTokenizer(folder) ? folder : null);
                if (tokenizerPath is not null)
                {
                    tokenizer = TokenizerLoader.Load(tokenizerPath);
                    TokenizerLoader.CheckFits(tokenizer, config.VocabSize, tokenizerPath);
                }
                var stops = new HashSet<int>(generation.EosIds);
                foreach (int id in ReadConfigEos(configPath))
                    stops.Add(id);
                if (tokenizer?.EosId is int eos)
                    stops.Add(eos);
                return new LoadedModel
                {
                    Model = model,
                    Tokenizer = tokenizer,
                    Source = folder,
                    Format = "huggingface",
                    StopTokens = stops,
                    ChatTemplate = special.ChatTemplate,
                    BosToken = special.BosToken,
                    EosToken = special.EosToken,
                    SamplingDefaults = generation.Sampling,
                    TensorTypes = tensorTypes,
                };
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    private static bool HasTokenizer(string folder) =>
        new[] { "tokenizer.json", "tokenizer.model", "tokenizer.bin", "vocab.json" }.Any(f => File.Exists(Path.Combine(folder, f)));

    private sealed record SpecialTokens(string? ChatTemplate, string? BosToken, string? EosToken);

    private static SpecialTokens ReadTokenizerConfig(string path)
    {
        if (!File.Exists(path))
            return new SpecialTokens(null, null, null);
        var root = ParseObject(path);
        string? template = null;
        if (root.TryGetProperty("chat_template", out var t))
        {
            if (t.ValueKind == JsonValueKind.String)
                template = t.GetString();
            else if (t.ValueKind == JsonValueKind.Array)
                // A list of named templates: the one named "default" is the chat template.
                foreach (var named in t.EnumerateArray())
                    if (named.ValueKind == JsonValueKind.Object && named.TryGetProperty("name", out var n) && n.GetString() == "default"
                        && named.TryGetProperty("template", out var body))
                        template = body.GetString();
        }
        string? Token(string key) => root.TryGetProperty(key, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        } : null;
        return new SpecialTokens(template, Token("bos_token"), Token("eos_token"));
    }

    private sealed record GenerationDefaults(int[] EosIds, SamplingOptions? Sampling);

    private static GenerationDefaults ReadGenerationConfig(string path)
    {
        if (!File.Exists(path))
            return new GenerationDefaults([], null);
        var root = ParseObject(path);
        int[] eos = root.TryGetProperty("eos_token_id", out var e) ? Ids(e) : [];
        double? Number(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        bool sample = root.TryGetProperty("do_sample", out var d) && d.ValueKind == JsonValueKind.True;
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            // do_sample false (transformers' default) means greedy decoding.
            Temperature = sample ? (float)(Number("temperature") ?? 1.0) : 0f,
            TopK = sample ? (int)(Number("top_k") ?? 50) : defaults.TopK,
            TopP = sample ? (float)(Number("top_p") ?? 1.0) : defaults.TopP,
            MinP = sample ? (float)(Number("min_p") ?? 0) : defaults.MinP,
            RepeatPenalty = (float)(Number("repetition_penalty") ?? 1.0),
        };
        return new GenerationDefaults(eos, sampling);
    }

    private static int[] ReadConfigEos(string configPath)
    {
        var root = ParseObject(configPath);
        return root.TryGetProperty("eos_token_id", out var e) ? Ids(e) : [];
    }

    private static int[] Ids(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number when e.TryGetInt32(out int id) => [id],
        JsonValueKind.Array => e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()).ToArray(),
        _ => [],
    };

    private static JsonElement ParseObject(string path) => JsonFile.ReadObject(path);
}
