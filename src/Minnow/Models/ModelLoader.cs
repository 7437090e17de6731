using Minnow.Formats.Gguf;
using Minnow.Formats.HuggingFace;
using Minnow.Formats.Llama2c;
using Minnow.Formats.Safetensors;
using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tokenizers;

namespace Minnow.Models;

/// <summary>How to open a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Threads the forward pass uses (default: one per core).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>A tokenizer to use instead of the one the model carries or has beside it.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>How inference states store their KV cache: F32 (exact, the default) or BF16 (half the memory).</summary>
    public DType KvCache { get; init; } = DType.F32;

    /// <summary>
    /// Whether quantized matrices run on copies repacked for the SIMD kernels (the default: faster decoding and
    /// prompts; each copy, made on the matrix's first product, is as large as the matrix) or straight from the file
    /// (less memory). See <see cref="DecoderModel.RepackWeights"/>.
    /// </summary>
    public bool RepackWeights { get; init; } = true;
}

/// <summary>A model opened from a file with what came with it: its tokenizer (if any) and how its generations end.</summary>
public sealed class LoadedModel : IDisposable
{
    public required ILanguageModel Model { get; init; }

    /// <summary>The tokenizer, or null when none was found (ids in, ids out).</summary>
    public ITokenizer? Tokenizer { get; init; }

    /// <summary>Where the model came from (file or folder).</summary>
    public required string Source { get; init; }

    /// <summary>The file format: "llama2c", "huggingface", …</summary>
    public required string Format { get; init; }

    /// <summary>Ids that end a generation: the model's EOS ids (generation_config, config, tokenizer), plus BOS for llama2.c checkpoints (as run.c does).</summary>
    public required IReadOnlyCollection<int> StopTokens { get; init; }

    /// <summary>The model's own Jinja chat template, if it carries one.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The BOS/EOS strings a chat template binds as bos_token/eos_token.</summary>
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }

    /// <summary>Sampling settings the model's authors recommend (HF generation_config.json), if any.</summary>
    public SamplingOptions? SamplingDefaults { get; init; }

    /// <summary>How many tensors of each stored type the file holds (e.g. "F32": 20, "BF16": 200).</summary>
    public IReadOnlyDictionary<string, int> TensorTypes { get; init; } = new Dictionary<string, int>();

    public void Dispose() => Model.Dispose();
}

/// <summary>
/// The single entry point that opens a model file, recognising its format from its contents. Each format has its own
/// reader under Formats/; this class only dispatches and attaches the tokenizer.
/// </summary>
public static class ModelLoader
{
    public static LoadedModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        if (options.Threads < 1)
            throw new InvalidInputException($"thread count must be at least 1, got {options.Threads}");
        if (options.KvCache is not (DType.F32 or DType.BF16))
            throw new InvalidInputException($"the KV cache can hold F32 or BF16 numbers, not {options.KvCache}");
        var loaded = Open(path, options);
        ((DecoderModel)loaded.Model).KvCacheType = options.KvCache;
        ((DecoderModel)loaded.Model).RepackWeights = options.RepackWeights;
        return loaded;
    }

    private static LoadedModel Open(string path, ModelLoadOptions options)
    {
        if (Directory.Exists(path))
            return HfModelLoader.Load(path, options);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: model file not found", path);
        if (GgufModelLoader.IsGguf(path))
            return GgufModelLoader.Load(path, options);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(SafetensorsCheckpoint.IndexFileName, StringComparison.OrdinalIgnoreCase))
            return HfModelLoader.Load(Path.GetDirectoryName(Path.GetFullPath(path))!, options);
        return LoadLlama2c(path, options);
    }

    /// <summary>A llama2.c checkpoint; its tokenizer is --tokenizer or a tokenizer.bin beside it.</summary>
    private static LoadedModel LoadLlama2c(string path, ModelLoadOptions options)
    {
        var model = Llama2cCheckpoint.Load(path, options.Threads);
        try
        {
            string? tokenizerPath = options.TokenizerPath ?? Beside(path, "tokenizer.bin");
            ITokenizer? tokenizer = null;
            if (tokenizerPath is not null)
            {
                tokenizer = TokenizerLoader.Load(tokenizerPath);
                TokenizerLoader.CheckFits(tokenizer, model.Config.VocabSize, tokenizerPath, exact: true);
            }
            var stops = new HashSet<int> { 1 };
            if (tokenizer?.EosId is int eos)
                stops.Add(eos);
            return new LoadedModel
            {
                Model = model, Tokenizer = tokenizer, Source = path, Format = "llama2c", StopTokens = stops,
                TensorTypes = new Dictionary<string, int> { ["F32"] = 9 * model.Config.Layers + (model.Config.TiedEmbeddings ? 2 : 3) },
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static string? Beside(string modelPath, string name)
    {
        string candidate = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".", name);
        return File.Exists(candidate) ? candidate : null;
    }
}
