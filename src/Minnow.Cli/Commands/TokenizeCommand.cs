using System.CommandLine;
using System.Text.Json;
using Minnow.Tokenizers;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow tokenize</c>: encodes text with any tokenizer Minnow reads and shows the ids and tokens.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        // -m/--model too: a model's tokenizer is what users usually want, and every other command names the model so.
        var tokenizerOption = new Option<string>("--tokenizer", "--model", "-m")
        {
            Description = "Tokenizer file, model file or model folder: a GGUF model (its tokenizer.ggml.* metadata), HF tokenizer.json or folder, SentencePiece .model, llama2.c tokenizer.bin, GPT-2 encoder.json (vocab.bpe beside it) or a .tiktoken rank file.",
            Required = true,
        };
        var encodingOption = new Option<string?>("--encoding")
        {
            Description = $"tiktoken encoding of a .tiktoken file ({string.Join(", ", Tiktoken.EncodingNames)}); defaults to the file's name.",
        };
        var textOption = new Option<string?>("--text") { Description = "Text to encode." };
        var inputOption = new Option<string?>("--input")
        {
            Description = "JSON-lines file of {\"text\": ...} objects; writes one {\"text\": ..., \"ids\": [...]} line per input line, in order, to stdout.",
        };
        var addSpecialOption = new Option<bool>("--add-special")
        {
            Description = "Add the special tokens the model expects around a sequence (BOS for Llama-style tokenizers, the post-processor's template for tokenizer.json).",
        };
        var parseSpecialOption = new Option<bool?>("--parse-special")
        {
            HelpName = "true|false",
            Description = "Whether special-token text in the input (e.g. <|im_start|>) becomes its special id: true or false. Default: the format's own rule (tokenizer.json: true; SentencePiece, tokenizer.bin, encoder.json, tiktoken: false).",
        };
        var jsonOption = Cli.JsonOption();
        var command = new Command("tokenize", "Encode text into token ids with a tokenizer file.")
        {
            tokenizerOption, encodingOption, textOption, inputOption, addSpecialOption, parseSpecialOption, jsonOption,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string? text = parse.GetValue(textOption), input = parse.GetValue(inputOption);
            if ((text is null) == (input is null))
                throw new InvalidInputException("give exactly one of --text TEXT or --input FILE.jsonl");
            var tokenizer = TokenizerLoader.Load(parse.GetValue(tokenizerOption)!, parse.GetValue(encodingOption));
            bool addSpecial = parse.GetValue(addSpecialOption);
            bool? parseSpecial = parse.GetValue(parseSpecialOption);
            if (input is not null)
                return EncodeLines(tokenizer, input, addSpecial, parseSpecial);
            int[] ids = tokenizer.Encode(text!, addSpecial, parseSpecial);
            string[] tokens = ids.Select(tokenizer.IdToToken).ToArray();
            if (parse.GetValue(jsonOption))
                Cli.WriteJson(new { Ids = ids, Tokens = tokens });
            else
            {
                Console.Out.WriteLine($"{ids.Length} tokens");
                for (int i = 0; i < ids.Length; i++)
                    Console.Out.WriteLine($"{ids[i],8}  {JsonSerializer.Serialize(tokens[i], ReadableJson)}{(tokenizer.IsSpecial(ids[i]) ? "  (special)" : "")}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Token strings shown as JSON string literals (quotes, escapes for control characters) but with non-ASCII kept readable.</summary>
    private static readonly JsonSerializerOptions ReadableJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static int EncodeLines(ITokenizer tokenizer, string path, bool addSpecial, bool? parseSpecial)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            string text;
            try
            {
                using var document = JsonDocument.Parse(line);
                text = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String
                    ? value.GetString()!
                    : throw new InvalidInputException($"{path}: line {lineNumber} has no string \"text\" field");
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{path}: line {lineNumber} is not JSON: {e.Message}");
            }
            Cli.WriteJson(new { Text = text, Ids = tokenizer.Encode(text, addSpecial, parseSpecial) });
        }
        return 0;
    }
}
