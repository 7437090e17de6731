using System.CommandLine;
using System.Text.Json;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Cli;

/// <summary>What every command shares: error reporting, JSON output, common options and model loading.</summary>
public static class Cli
{
    /// <summary>Runs a command body; bad input (a <see cref="MinnowException"/>, a missing file…) becomes one line on stderr and exit code 1.</summary>
    public static int Run(Func<int> body) => RunAsync(() => Task.FromResult(body())).GetAwaiter().GetResult();

    /// <inheritdoc cref="Run"/>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is MinnowException or IOException or UnauthorizedAccessException or FormatException or JsonException or NotSupportedException;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes one JSON object (and a newline) to stdout.</summary>
    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    public static Option<bool> JsonOption() => new("--json") { Description = "Write machine-readable JSON to stdout (progress and warnings go to stderr)." };

    public static Option<string?> ModelOption() => new("--model", "-m")
    {
        Description = "Model: a GGUF file, a HF folder (config.json + safetensors) or a llama2.c .bin. Default: Minnow's small Tiny Shakespeare demonstration model.",
        HelpName = "FILE",
    };

    public static Option<string?> TokenizerOption() => new("--tokenizer")
    {
        Description = "Tokenizer file, overriding the one the model carries or has beside it (tokenizer.bin next to a llama2.c model).",
        HelpName = "FILE",
    };

    public static Option<int> ThreadsOption() => new("--threads", "-t")
    {
        Description = "Threads for the forward pass (default: one per core).",
        DefaultValueFactory = _ => Environment.ProcessorCount,
        HelpName = "N",
    };

    public static Option<string> KvCacheOption()
    {
        var option = new Option<string>("--kv-cache")
        {
            Description = "How the KV cache stores keys and values: f32 (exact) or bf16 (rounded to 8 significant bits: half the memory, and faster decoding at long contexts).",
            DefaultValueFactory = _ => "f32",
            HelpName = "TYPE",
        };
        option.AcceptOnlyFromAmong("f32", "bf16");
        return option;
    }

    public static Option<bool> NoRepackOption() => new("--no-repack")
    {
        Description = "Run quantized weights straight from the model file instead of from a copy repacked for the SIMD kernels (made on first use, as large as the quantized weights): less memory, slower decoding and prompts.",
    };

    /// <summary>Opens --model (or the default model, with a note on stderr) with --tokenizer, --threads, --kv-cache and --no-repack.</summary>
    public static LoadedModel LoadModel(string? modelPath, string? tokenizerPath, int threads, string? kvCache = null, bool noRepack = false)
    {
        if (modelPath is null)
        {
            Console.Error.WriteLine(DefaultModel.Note);
            modelPath = DefaultModel.Locate();
        }
        var cacheType = kvCache switch
        {
            null or "f32" => DType.F32,
            "bf16" => DType.BF16,
            _ => throw new InvalidInputException($"--kv-cache must be f32 or bf16, got '{kvCache}'"),
        };
        return ModelLoader.Load(modelPath, new ModelLoadOptions { Threads = threads, TokenizerPath = tokenizerPath, KvCache = cacheType, RepackWeights = !noRepack });
    }

    /// <summary>
    /// Model text for a terminal: control characters other than newline, tab and carriage return are shown as their
    /// visible symbols (U+2400…), so a model cannot send escape sequences to the user's terminal. Redirected output
    /// is left untouched.
    /// </summary>
    public static string Printable(string text)
    {
        if (Console.IsOutputRedirected || !text.Any(IsHidden))
            return text;
        return string.Create(text.Length, text, (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                span[i] = IsHidden(source[i]) ? (source[i] == '\x7F' ? '\u2421' : (char)(0x2400 + source[i])) : source[i];
        });
    }

    private static bool IsHidden(char c) => (c < 0x20 && c is not ('\n' or '\t' or '\r')) || c == '\x7F';

    /// <summary>Parses "1,2,3" (spaces allowed) into ids; <paramref name="option"/> names the option in errors.</summary>
    public static int[] ParseIds(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ids[i]))
                throw new InvalidInputException($"{option}: '{parts[i]}' is not a token id (expected comma-separated non-negative integers, e.g. 1,450,4996)");
        return ids;
    }
}
