using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Minnow.Generation.ChatTemplates;

namespace Minnow.Cli.Commands;

/// <summary>
/// <c>minnow chat-template</c>: renders conversations with a model's Jinja chat template, exactly as Hugging Face's
/// <c>apply_chat_template</c> does — one conversation from a file, or a batch of test cases in JSON lines.
/// </summary>
public static class ChatTemplateCommand
{
    // Prompts are full of '<' and '>': keep them readable in JSON output (still valid JSON).
    private static readonly JsonSerializerOptions OutputOptions = new(Cli.JsonOptions) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var templateDir = new Option<DirectoryInfo?>("--template-dir")
        {
            Description = "Batch mode: folder holding the .jinja files that the --input lines name in their \"template\" field.",
            HelpName = "DIR",
        };
        var input = new Option<FileInfo?>("--input")
        {
            Description = "Batch mode: JSON lines, one case per line: {\"template\": file name in --template-dir, \"messages\": [...], "
                + "\"add_generation_prompt\": bool, \"bos_token\"/\"eos_token\": string or null (null = undefined), \"extra_context\": {optional variables}}. "
                + "Writes one line per case, in order; a case that fails prints its error and the rest go on.",
            HelpName = "CASES.jsonl",
        };
        var template = new Option<FileInfo?>("--template")
        {
            Description = "Single mode: the Jinja chat template to use (for example a model's chat_template saved to a file).",
            HelpName = "FILE.jinja",
        };
        var model = new Option<string?>("--model")
        {
            Description = "Single mode: use the chat template stored in this model (GGUF or Hugging Face folder) instead of --template.",
            HelpName = "MODEL",
        };
        var messages = new Option<FileInfo?>("--messages")
        {
            Description = "Single mode: the conversation as a JSON array of {\"role\", \"content\", ...} objects, or an object with "
                + "\"messages\" plus other template variables (\"tools\", \"documents\", \"date_string\"…).",
            HelpName = "FILE.json",
        };
        var addGenerationPrompt = new Option<bool>("--add-generation-prompt")
        {
            Description = "Single mode: end with the header that cues the assistant's reply (add_generation_prompt=True).",
        };
        var bosToken = new Option<string?>("--bos-token") { Description = "Single mode: the string bound as bos_token (default: the model's, with --model; otherwise undefined).", HelpName = "TEXT" };
        var eosToken = new Option<string?>("--eos-token") { Description = "Single mode: the string bound as eos_token (default: the model's, with --model; otherwise undefined).", HelpName = "TEXT" };
        var json = Cli.JsonOption();
        json.Description = "Write JSON: {\"rendered\": text} or {\"error\": message}, one line per case in batch mode.";

        var command = new Command("chat-template",
            "Render a conversation with a model's Jinja chat template exactly as Hugging Face's apply_chat_template does. "
            + "Batch: --template-dir DIR --input CASES.jsonl. Single: --template FILE.jinja (or --model MODEL) --messages FILE.json.")
        {
            templateDir, input, template, model, messages, addGenerationPrompt, bosToken, eosToken, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            bool asJson = parse.GetValue(json);
            var inputFile = parse.GetValue(input);
            var messagesFile = parse.GetValue(messages);
            if ((inputFile is null) == (messagesFile is null))
                throw new InvalidInputException("give either --template-dir DIR --input CASES.jsonl (batch) or --template FILE.jinja --messages FILE.json (single)");
            if (inputFile is not null)
            {
                var dir = parse.GetValue(templateDir) ?? throw new InvalidInputException("--input needs --template-dir DIR");
                return RenderCases(dir, inputFile, asJson);
            }
            var templateFile = parse.GetValue(template);
            string? modelPath = parse.GetValue(model);
            if ((templateFile is null) == (modelPath is null))
                throw new InvalidInputException("--messages needs exactly one of --template FILE.jinja or --model MODEL");
            string source;
            string? bos = parse.GetValue(bosToken), eos = parse.GetValue(eosToken);
            if (modelPath is not null)
            {
                using var loaded = Cli.LoadModel(modelPath, null, 1);
                source = loaded.ChatTemplate ?? throw new InvalidInputException($"{modelPath} carries no chat template");
                bos ??= loaded.BosToken;
                eos ??= loaded.EosToken;
            }
            else
            {
                source = File.ReadAllText(templateFile!.FullName);
            }
            var chatTemplate = ChatTemplate.Parse(source);
            var (conversation, variables) = ReadConversation(messagesFile!);
            string rendered = chatTemplate.Render(conversation, parse.GetValue(addGenerationPrompt), bos, eos, variables);
            if (asJson)
                Console.Out.WriteLine(JsonSerializer.Serialize(new { Rendered = rendered }, OutputOptions));
            else
                Console.Out.Write(rendered); // exactly the prompt: no newline added
            return 0;
        }));
        return command;
    }

    private static (JsonElement Messages, Dictionary<string, object?> Variables) ReadConversation(FileInfo file)
    {
        var root = JsonDocument.Parse(File.ReadAllText(file.FullName)).RootElement;
        var variables = new Dictionary<string, object?>();
        if (root.ValueKind == JsonValueKind.Array)
            return (root, variables);
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException($"{file.Name}: expected a JSON array of messages, or an object with a \"messages\" array");
        foreach (var property in root.EnumerateObject())
            if (property.Name != "messages")
                variables[property.Name] = property.Value;
        return (messages, variables);
    }

    private static int RenderCases(DirectoryInfo dir, FileInfo input, bool asJson)
    {
        var templates = new Dictionary<string, ChatTemplate>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(input.FullName))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            string? name = null;
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                name = RequiredString(root, "template", lineNumber);
                if (!templates.TryGetValue(name, out var chatTemplate))
                    templates[name] = chatTemplate = ChatTemplate.Parse(File.ReadAllText(Path.Combine(dir.FullName, name)));
                if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
                    throw new InvalidInputException($"line {lineNumber}: \"messages\" must be an array");
                var variables = new Dictionary<string, object?>();
                if (root.TryGetProperty("extra_context", out var extra) && extra.ValueKind == JsonValueKind.Object)
                    foreach (var property in extra.EnumerateObject())
                        variables[property.Name] = property.Value;
                bool generationPrompt = root.TryGetProperty("add_generation_prompt", out var agp) && agp.ValueKind == JsonValueKind.True;
                string rendered = chatTemplate.Render(messages, generationPrompt, OptionalString(root, "bos_token"), OptionalString(root, "eos_token"), variables);
                if (asJson)
                    Console.Out.WriteLine(JsonSerializer.Serialize(new { Rendered = rendered }, OutputOptions));
                else
                    Console.Out.WriteLine($"--- line {lineNumber} ({name})\n{rendered}");
            }
            catch (Exception e) when (e is MinnowException or JsonException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                string message = e is JsonException ? $"line {lineNumber}: invalid JSON: {e.Message}" : e.Message;
                if (asJson)
                    Console.Out.WriteLine(JsonSerializer.Serialize(new { Error = message }, OutputOptions));
                else
                    Console.Out.WriteLine($"--- line {lineNumber}{(name is null ? "" : $" ({name})")}: error: {message}");
            }
        }
        return 0;
    }

    private static string RequiredString(JsonElement root, string property, int lineNumber) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidInputException($"line {lineNumber}: \"{property}\" must be a string");

    private static string? OptionalString(JsonElement root, string property) =>
        root.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
