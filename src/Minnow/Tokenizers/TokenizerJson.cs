using System.Text;
using System.Text.Json;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers;

/// <summary>
/// Reads HF tokenizers' <c>tokenizer.json</c> into a <see cref="PipelineTokenizer"/>: models BPE, Unigram, WordPiece and
/// WordLevel; the normalizers, pre-tokenizers, post-processors and decoders listed in the component files; added tokens.
/// Added/special tokens written in the input are matched as tokens (HF's default). A component this reader does not
/// know is a <see cref="ModelFormatException"/> naming it, never a silent difference. BOS/EOS come from a
/// <c>tokenizer_config.json</c> beside the file when there is one, else from the post-processor's template.
/// </summary>
public static partial class TokenizerJson
{
    /// <summary>Loads a tokenizer.json file.</summary>
    public static ITokenizer Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON: {e.Message}");
        }
        using (document)
        {
            var (bos, eos) = ReadConfigSpecials(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer_config.json"));
            return Build(document.RootElement, path, bos, eos);
        }
    }

    /// <summary>Builds a tokenizer from tokenizer.json text (<paramref name="sourceName"/> names it in errors).</summary>
    /// <remarks><paramref name="bosToken"/>/<paramref name="eosToken"/> name the BOS/EOS tokens when the pipeline itself does not say (tokenizer_config.json or GGUF metadata does).</remarks>
    public static ITokenizer Parse(string json, string? sourceName = null, string? bosToken = null, string? eosToken = null)
    {
        using var document = JsonDocument.Parse(json);
        return Build(document.RootElement, sourceName, bosToken, eosToken);
    }

    private static PipelineTokenizer Build(JsonElement root, string? path, string? bosToken, string? eosToken)
    {
        var reader = new Reader(path);
        if (root.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(path, "the top level is not a JSON object");
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var token in addedTokens.EnumerateArray())
            {
                string field = $"added_tokens[{i++}]";
                bool special = reader.Bool(token, "special", false);
                added.Add(new AddedToken(reader.Int(token, "id", field), reader.String(token, "content", field), special,
                    reader.Bool(token, "single_word", false), reader.Bool(token, "lstrip", false), reader.Bool(token, "rstrip", false),
                    reader.Bool(token, "normalized", !special)));
            }
        }
        var model = reader.Model(reader.Required(root, "model", ""));
        var normalizer = reader.Normalizer(root.TryGetProperty("normalizer", out var n) ? n : default, "normalizer");
        var preTokenizer = reader.PreTokenizer(root.TryGetProperty("pre_tokenizer", out var p) ? p : default, "pre_tokenizer");
        var postProcessor = reader.PostProcessor(root.TryGetProperty("post_processor", out var pp) ? pp : default, "post_processor", model, added);
        var decoder = reader.Decoder(root.TryGetProperty("decoder", out var d) ? d : default, "decoder");

        int? IdOf(string? token) => token is null ? null : added.FirstOrDefault(a => a.Content == token)?.Id ?? model.TokenToId(token);
        return new PipelineTokenizer(model, normalizer, preTokenizer, postProcessor, decoder, added, parseSpecialByDefault: true, IdOf(bosToken), IdOf(eosToken));
    }

    /// <summary>bos_token/eos_token of a tokenizer_config.json (a string or an object with "content").</summary>
    private static (string? Bos, string? Eos) ReadConfigSpecials(string configPath)
    {
        if (!File.Exists(configPath))
            return (null, null);
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            static string? Token(JsonElement root, string name) =>
                !root.TryGetProperty(name, out var value) ? null
                : value.ValueKind == JsonValueKind.String ? value.GetString()
                : value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) ? content.GetString() : null;
            return (Token(config.RootElement, "bos_token"), Token(config.RootElement, "eos_token"));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>Typed access to the JSON with errors that name the file and the field.</summary>
    private sealed class Reader(string? path)
    {
        public ModelFormatException Error(string field, string message) => new(path, $"{field}: {message}");

        public JsonElement Required(JsonElement element, string name, string field)
        {
            string full = field.Length == 0 ? name : $"{field}.{name}";
            return element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : throw Error(full, "missing");
        }

        public string String(JsonElement element, string name, string field)
        {
            var value = Required(element, name, field);
            return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Error($"{field}.{name}", "not a string");
        }

        public string? OptionalString(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        public int Int(JsonElement element, string name, string field)
        {
            var value = Required(element, name, field);
            return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result) ? result : throw Error($"{field}.{name}", "not an integer");
        }

        public bool Bool(JsonElement element, string name, bool fallback) =>
            element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;

        public char Char(JsonElement element, string name, string field)
        {
            string value = String(element, name, field);
            return value.Length == 1 ? value[0] : throw Error($"{field}.{name}", $"'{value}' is not one character");
        }

        public string Type(JsonElement element, string field) => String(element, "type", field);

        private IEnumerable<(JsonElement Item, string Field)> Items(JsonElement element, string name, string field)
        {
            var array = Required(element, name, field);
            if (array.ValueKind != JsonValueKind.Array)
                throw Error($"{field}.{name}", "not an array");
            int i = 0;
            foreach (var item in array.EnumerateArray())
                yield return (item, $"{field}.{name}[{i++}]");
        }

        /// <summary>A "pattern" object: {"String": literal} or {"Regex": pattern}.</summary>
        public PatternSplitter Pattern(JsonElement element, string field)
        {
            var pattern = Required(element, "pattern", field);
            if (pattern.TryGetProperty("String", out var literal))
                return PatternSplitter.ForLiteral(literal.GetString() ?? "");
            if (pattern.TryGetProperty("Regex", out var regex))
            {
                try
                {
                    return PatternSplitter.For(regex.GetString() ?? "");
                }
                catch (InvalidInputException e)
                {
                    throw Error($"{field}.pattern", e.Message);
                }
            }
            throw Error($"{field}.pattern", "neither {\"String\": ...} nor {\"Regex\": ...}");
        }

        public SplitBehavior Behavior(JsonElement element, string field, SplitBehavior fallback)
        {
            string? name = OptionalString(element, "behavior");
            if (name is null)
                return fallback;
            return Enum.TryParse<SplitBehavior>(name, ignoreCase: true, out var behavior) ? behavior : throw Error($"{field}.behavior", $"unknown behavior '{name}'");
        }

        public PrependScheme Scheme(JsonElement element, string field)
        {
            string? scheme = OptionalString(element, "prepend_scheme");
            if (scheme is null)
                return Bool(element, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;
            return Enum.TryParse<PrependScheme>(scheme, ignoreCase: true, out var result) ? result : throw Error($"{field}.prepend_scheme", $"unknown scheme '{scheme}'");
        }

        public INormalizer? Normalizer(JsonElement element, string field)
        {
            if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                return null;
            string type = Type(element, field);
            return type switch
            {
                "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
                "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
                "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
                "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
                "Lowercase" => new LowercaseNormalizer(),
                "Prepend" => new PrependNormalizer(String(element, "prepend", field)),
                "Replace" => new ReplaceNormalizer(Pattern(element, field), String(element, "content", field)),
                "Strip" => new StripNormalizer(Bool(element, "strip_left", true), Bool(element, "strip_right", true)),
                "StripAccents" => new StripAccentsNormalizer(),
                "BertNormalizer" => new BertNormalizer(Bool(element, "clean_text", true), Bool(element, "handle_chinese_chars", true),
                    element.TryGetProperty("strip_accents", out var strip) && strip.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? strip.GetBoolean() : Bool(element, "lowercase", true),
                    Bool(element, "lowercase", true)),
                "Precompiled" => PrecompiledNormalizer(element, field),
                "Sequence" => new SequenceNormalizer(Items(element, "normalizers", field).Select(x => Normalizer(x.Item, x.Field)!).ToList()),
                _ => throw Error(field, $"normalizer type '{type}' is not supported"),
            };
        }

        private INormalizer? PrecompiledNormalizer(JsonElement element, string field)
        {
            string? data = OptionalString(element, "precompiled_charsmap");
            if (string.IsNullOrEmpty(data))
                return null;
            try
            {
                return new SentencePiece.PrecompiledCharsMap(Convert.FromBase64String(data), path);
            }
            catch (FormatException)
            {
                throw Error($"{field}.precompiled_charsmap", "not base64");
            }
        }

        public IPreTokenizer? PreTokenizer(JsonElement element, string field)
        {
            if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                return null;
            string type = Type(element, field);
            return type switch
            {
                "ByteLevel" => new ByteLevelPreTokenizer(Bool(element, "add_prefix_space", true), Bool(element, "use_regex", true)),
                "Split" => new SplitPreTokenizer(Pattern(element, field), Behavior(element, field, SplitBehavior.Isolated), Bool(element, "invert", false)),
                "Metaspace" => new MetaspacePreTokenizer(Char(element, "replacement", field), Scheme(element, field), Bool(element, "split", true)),
                "Digits" => new DigitsPreTokenizer(Bool(element, "individual_digits", false)),
                "Punctuation" => new PunctuationPreTokenizer(Behavior(element, field, SplitBehavior.Isolated)),
                "Whitespace" => new WhitespacePreTokenizer(),
                "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
                "BertPreTokenizer" => new BertPreTokenizer(),
                "Sequence" => new SequencePreTokenizer(Items(element, "pretokenizers", field).Select(x => PreTokenizer(x.Item, x.Field)!).ToList()),
                _ => throw Error(field, $"pre-tokenizer type '{type}' is not supported"),
            };
        }

        public IDecoder? Decoder(JsonElement element, string field)
        {
            if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                return null;
            string type = Type(element, field);
            return type switch
            {
                "ByteLevel" => new ByteLevelDecoder(),
                "Metaspace" => new MetaspaceDecoder(Char(element, "replacement", field), Scheme(element, field)),
                "ByteFallback" => new ByteFallbackDecoder(),
                "Fuse" => new FuseDecoder(),
                "Strip" => new StripDecoder(Char(element, "content", field), Int(element, "start", field), Int(element, "stop", field)),
                "Replace" => new ReplaceDecoder(new ReplaceNormalizer(Pattern(element, field), String(element, "content", field))),
                "WordPiece" => new WordPieceDecoder(OptionalString(element, "prefix") ?? "##", Bool(element, "cleanup", true)),
                "BPEDecoder" => new BpeSuffixDecoder(OptionalString(element, "suffix") ?? "</w>"),
                "Sequence" => new SequenceDecoder(Items(element, "decoders", field).Select(x => Decoder(x.Item, x.Field)!).ToList()),
                _ => throw Error(field, $"decoder type '{type}' is not supported"),
            };
        }

        public IPostProcessor? PostProcessor(JsonElement element, string field, ITokenModel model, List<AddedToken> added)
        {
            if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                return null;
            string type = Type(element, field);
            switch (type)
            {
                case "ByteLevel":
                    return null;
                case "TemplateProcessing":
                {
                    var specials = new Dictionary<string, int[]>();
                    if (element.TryGetProperty("special_tokens", out var map) && map.ValueKind == JsonValueKind.Object)
                        foreach (var special in map.EnumerateObject())
                            specials[special.Name] = Items(special.Value, "ids", $"{field}.special_tokens.{special.Name}").Select(x => x.Item.GetInt32()).ToArray();
                    var template = new List<int[]?>();
                    foreach (var (item, itemField) in Items(element, "single", field))
                    {
                        if (item.TryGetProperty("Sequence", out _))
                            template.Add(null);
                        else if (item.TryGetProperty("SpecialToken", out var token))
                        {
                            string id = String(token, "id", $"{itemField}.SpecialToken");
                            template.Add(specials.TryGetValue(id, out var ids) ? ids : throw Error($"{itemField}.SpecialToken", $"'{id}' is not in special_tokens"));
                        }
                        else
                            throw Error(itemField, "neither Sequence nor SpecialToken");
                    }
                    return new TemplateProcessor(template);
                }
                case "RobertaProcessing":
                case "BertProcessing":
                {
                    int Id(string name) => Required(element, name, field) is { ValueKind: JsonValueKind.Array } pair && pair.GetArrayLength() == 2
                        ? pair[1].GetInt32() : throw Error($"{field}.{name}", "not a [token, id] pair");
                    return new TemplateProcessor([[Id("cls")], null, [Id("sep")]]);
                }
                case "Sequence":
                    return new SequencePostProcessor(Items(element, "processors", field).Select(x => PostProcessor(x.Item, x.Field, model, added)).OfType<IPostProcessor>().ToList());
                default:
                    throw Error(field, $"post-processor type '{type}' is not supported");
            }
        }

        public ITokenModel Model(JsonElement element)
        {
            const string field = "model";
            string type = OptionalString(element, "type") ?? (element.TryGetProperty("merges", out _) ? "BPE" : element.TryGetProperty("unk_id", out _) ? "Unigram" : "WordPiece");
            switch (type)
            {
                case "BPE":
                {
                    if (element.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
                        throw Error($"{field}.dropout", "BPE dropout (random segmentation) is a training-time option and is not supported");
                    var options = new BpeOptions
                    {
                        UnkToken = OptionalString(element, "unk_token"),
                        FuseUnk = Bool(element, "fuse_unk", false),
                        ByteFallback = Bool(element, "byte_fallback", false),
                        IgnoreMerges = Bool(element, "ignore_merges", false),
                        ContinuingSubwordPrefix = OptionalString(element, "continuing_subword_prefix"),
                        EndOfWordSuffix = OptionalString(element, "end_of_word_suffix"),
                    };
                    return new BpeModel(Vocab(element, field), Merges(element, field), options, path);
                }
                case "Unigram":
                {
                    var pieces = new List<string>();
                    var scores = new List<double>();
                    foreach (var (item, itemField) in Items(element, "vocab", field))
                    {
                        if (item.ValueKind != JsonValueKind.Array || item.GetArrayLength() != 2 || item[0].ValueKind != JsonValueKind.String)
                            throw Error(itemField, "not a [piece, score] pair");
                        pieces.Add(item[0].GetString()!);
                        scores.Add(item[1].GetDouble());
                    }
                    int? unk = element.TryGetProperty("unk_id", out var u) && u.ValueKind == JsonValueKind.Number ? u.GetInt32() : null;
                    return new UnigramModel(pieces.ToArray(), scores.ToArray(), unk, Bool(element, "byte_fallback", false));
                }
                case "WordPiece":
                    return new WordPieceModel(Vocab(element, field), OptionalString(element, "unk_token") ?? "[UNK]",
                        OptionalString(element, "continuing_subword_prefix") ?? "##",
                        element.TryGetProperty("max_input_chars_per_word", out var max) && max.ValueKind == JsonValueKind.Number ? max.GetInt32() : 100, path);
                case "WordLevel":
                {
                    var vocab = Vocab(element, field);
                    string unk = String(element, "unk_token", field);
                    return new WordLevelModel(vocab, vocab.TryGetValue(unk, out int unkId) ? unkId : throw Error($"{field}.unk_token", $"'{unk}' is not in the vocabulary"));
                }
                default:
                    throw Error($"{field}.type", $"model type '{type}' is not supported");
            }
        }

        private Dictionary<string, int> Vocab(JsonElement element, string field)
        {
            var vocab = Required(element, "vocab", field);
            if (vocab.ValueKind != JsonValueKind.Object)
                throw Error($"{field}.vocab", "not an object of token → id");
            var result = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in vocab.EnumerateObject())
                result[entry.Name] = entry.Value.TryGetInt32(out int id) ? id : throw Error($"{field}.vocab", $"'{entry.Name}' has no integer id");
            return result;
        }

        private List<(string, string)> Merges(JsonElement element, string field)
        {
            var merges = new List<(string, string)>();
            if (!element.TryGetProperty("merges", out var array) || array.ValueKind != JsonValueKind.Array)
                return merges;
            int i = 0;
            foreach (var merge in array.EnumerateArray())
            {
                if (merge.ValueKind == JsonValueKind.String)
                {
                    string[] parts = merge.GetString()!.Split(' ');
                    merges.Add(parts.Length == 2 ? (parts[0], parts[1]) : throw Error($"{field}.merges[{i}]", $"'{merge.GetString()}' is not 'left right'"));
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
                    merges.Add((merge[0].GetString() ?? "", merge[1].GetString() ?? ""));
                else
                    throw Error($"{field}.merges[{i}]", "not a merge");
                i++;
            }
            return merges;
        }
    }
}
