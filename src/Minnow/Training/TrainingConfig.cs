using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Minnow.Models;

namespace Minnow.Training;

/// <summary>
/// Everything a training run is made of. Each property is a setting of the same name in snake_case (a YAML key of
/// <c>--config</c>, and a <c>--kebab-case</c> flag of <c>minnow train</c>); defaults are here and nowhere else.
/// </summary>
public sealed record TrainingConfig
{
    /// <summary>A folder written by <c>minnow data prepare</c>.</summary>
    public string Data { get; init; } = "";
    /// <summary>The tokenizer the data was prepared with (exported beside the model).</summary>
    public string Tokenizer { get; init; } = "";
    /// <summary>Output folder: checkpoint, loss curve, exported model.</summary>
    public string Out { get; init; } = "";
    /// <summary>"llama" (RMSNorm, RoPE, SwiGLU; tied embeddings) or "gpt2".</summary>
    public string Arch { get; init; } = "llama";
    public int Dim { get; init; } = 256;
    public int Layers { get; init; } = 6;
    public int Heads { get; init; } = 8;
    /// <summary>Key/value heads (grouped-query attention); default: <see cref="Heads"/>. Llama only.</summary>
    public int? KvHeads { get; init; }
    /// <summary>Feed-forward width; default: llama2.c's 2/3·4·dim rounded up to 32 for Llama, 4·dim for GPT-2.</summary>
    public int? HiddenDim { get; init; }
    /// <summary>Tokens per training sequence, also the model's context length.</summary>
    public int SeqLen { get; init; } = 256;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Micro-batches per optimizer step.</summary>
    public int GradAccum { get; init; } = 1;
    public int Steps { get; init; } = 1000;
    /// <summary>Peak learning rate (AdamW).</summary>
    public float Lr { get; init; } = 1e-3f;
    /// <summary>Linear warm-up steps; default: 5% of the steps, at most 100.</summary>
    public int? Warmup { get; init; }
    /// <summary>Learning rate at the end of the cosine decay; default: lr/10.</summary>
    public float? MinLr { get; init; }
    /// <summary>AdamW decoupled weight decay (matrices only).</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>AdamW β2 (nanoGPT's 0.99 for small data).</summary>
    public float Beta2 { get; init; } = 0.99f;
    /// <summary>Global gradient-norm clip; 0 = off.</summary>
    public float GradClip { get; init; } = 1.0f;
    /// <summary>Steps between validation losses (and at the last step); 0 = only at the end.</summary>
    public int EvalInterval { get; init; } = 100;
    /// <summary>At most this many batches of the validation split per evaluation (contiguous windows from its start).</summary>
    public int EvalBatches { get; init; } = 20;
    /// <summary>Steps between checkpoints (and at the last step, at --stop-after and on Ctrl-C).</summary>
    public int CheckpointInterval { get; init; } = 100;
    public ulong Seed { get; init; } = 1337;
    /// <summary>Kernel threads (results do not depend on it); 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>Stored type of the exported weights: f32, f16 or bf16.</summary>
    public string ExportType { get; init; } = "f16";

    public int WarmupSteps => Warmup ?? Math.Min(100, Steps / 20);
    public float MinLearningRate => MinLr ?? Lr / 10;
    public int TokensPerStep => SeqLen * BatchSize * GradAccum;

    /// <summary>Settings that may differ when resuming (they do not change the losses); all others must match the checkpoint.</summary>
    private static readonly HashSet<string> FreeOnResume = ["data", "tokenizer", "out", "threads", "eval_interval", "eval_batches", "checkpoint_interval", "export_type"];

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly Dictionary<string, PropertyInfo> Settings = typeof(TrainingConfig)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite)
        .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), StringComparer.Ordinal);

    /// <summary>Every setting's name (snake_case).</summary>
    public static IEnumerable<string> SettingNames => Settings.Keys;

    /// <summary>
    /// <paramref name="baseConfig"/> (or the defaults) with <paramref name="settings"/> (snake_case name → text) applied.
    /// Unknown names and values that do not parse are <see cref="InvalidInputException"/>s naming the setting.
    /// </summary>
    public static TrainingConfig With(IEnumerable<KeyValuePair<string, string>> settings, TrainingConfig? baseConfig = null)
    {
        var json = JsonSerializer.SerializeToNode(baseConfig ?? new TrainingConfig(), Json)!.AsObject();
        foreach (var (key, text) in settings)
        {
            string name = key.Replace('-', '_');
            if (!Settings.TryGetValue(name, out var property))
                throw new InvalidInputException($"unknown training setting '{key}' (known: {string.Join(", ", Settings.Keys)})");
            json[name] = Parse(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, text, name);
        }
        return json.Deserialize<TrainingConfig>(Json)!;
    }

    private static JsonNode? Parse(Type type, string text, string name)
    {
        var c = CultureInfo.InvariantCulture;
        bool ok;
        JsonNode? node;
        if (type == typeof(string)) { node = text; ok = true; }
        else if (type == typeof(int)) { ok = int.TryParse(text, NumberStyles.Integer, c, out int v); node = v; }
        else if (type == typeof(ulong)) { ok = ulong.TryParse(text, NumberStyles.Integer, c, out ulong v); node = v; }
        else if (type == typeof(float)) { ok = float.TryParse(text, NumberStyles.Float, c, out float v) && float.IsFinite(v); node = v; }
        else throw new InvalidOperationException($"setting {name} has an unsupported type {type}");
        return ok ? node : throw new InvalidInputException($"{name}: '{text}' is not a valid {(type == typeof(float) ? "number" : type == typeof(string) ? "text" : "integer")}");
    }

    /// <summary>Checks the values make a run; the first problem is an <see cref="InvalidInputException"/> naming the flag.</summary>
    public void Validate()
    {
        void Require(bool ok, string message)
        {
            if (!ok)
                throw new InvalidInputException(message);
        }
        Require(Data.Length > 0, "--data is required (a folder written by `minnow data prepare`)");
        Require(Tokenizer.Length > 0, "--tokenizer is required (the tokenizer.json the data was prepared with)");
        Require(Out.Length > 0, "--out is required (the folder for checkpoints and the exported model)");
        Require(Arch is "llama" or "gpt2", $"--arch must be llama or gpt2, not '{Arch}'");
        Require(Dim > 0 && Layers > 0 && Heads > 0, "--dim, --layers and --heads must be positive");
        Require(Dim % Heads == 0, $"--dim {Dim} is not a multiple of --heads {Heads}");
        Require((Dim / Heads) % 2 == 0 || Arch == "gpt2", $"the head size {Dim / Heads} must be even for RoPE");
        Require(KvHeads is null || (KvHeads > 0 && Heads % KvHeads == 0), $"--heads {Heads} must be a multiple of --kv-heads {KvHeads}");
        Require(KvHeads is null || KvHeads == Heads || Arch == "llama", "--kv-heads applies to llama only");
        Require(HiddenDim is null || HiddenDim > 0, "--hidden-dim must be positive");
        Require(SeqLen > 0 && BatchSize > 0 && GradAccum > 0 && Steps > 0, "--seq-len, --batch-size, --grad-accum and --steps must be positive");
        Require(Lr > 0 && MinLearningRate >= 0 && MinLearningRate <= Lr, $"need 0 <= --min-lr <= --lr, got lr {Lr}, min-lr {MinLearningRate}");
        Require(WarmupSteps >= 0 && WarmupSteps <= Steps, $"--warmup must be in [0, steps], got {WarmupSteps}");
        Require(WeightDecay >= 0 && GradClip >= 0 && Beta2 > 0 && Beta2 < 1, "--weight-decay and --grad-clip must be >= 0, and beta2 in (0, 1)");
        Require(EvalInterval >= 0 && EvalBatches > 0 && CheckpointInterval >= 0, "--eval-interval and --checkpoint-interval must be >= 0, --eval-batches > 0");
        Require(Threads >= 0, "--threads must be >= 0");
        Require(ExportType is "f32" or "f16" or "bf16", $"--export-type must be f32, f16 or bf16, not '{ExportType}'");
    }

    /// <summary>The model this run trains, for a tokenizer of <paramref name="vocabSize"/> tokens.</summary>
    public ModelConfig ModelConfig(int vocabSize) => Arch == "gpt2"
        ? new ModelConfig
        {
            Architecture = "gpt2", Dim = Dim, HiddenDim = HiddenDim ?? 4 * Dim, Layers = Layers, Heads = Heads, KvHeads = Heads,
            VocabSize = vocabSize, ContextLength = SeqLen, TiedEmbeddings = true,
        }
        : new ModelConfig
        {
            Architecture = "llama", Dim = Dim, HiddenDim = HiddenDim ?? (2 * 4 * Dim / 3 + 31) / 32 * 32, Layers = Layers, Heads = Heads,
            KvHeads = KvHeads ?? Heads, VocabSize = vocabSize, ContextLength = SeqLen, TiedEmbeddings = true,
        };

    /// <summary>
    /// Checks a checkpoint's config can be continued with this one: every setting that shapes the model, the data
    /// order or the schedule must be equal (only paths, threads, evaluation and checkpoint cadence may change).
    /// </summary>
    public void CheckResumable(TrainingConfig checkpoint)
    {
        var mine = JsonSerializer.SerializeToNode(this, Json)!.AsObject();
        var theirs = JsonSerializer.SerializeToNode(checkpoint, Json)!.AsObject();
        var different = mine.Where(kv => !FreeOnResume.Contains(kv.Key) && !JsonNode.DeepEquals(kv.Value, theirs[kv.Key]))
            .Select(kv => $"--{kv.Key.Replace('_', '-')} {kv.Value?.ToJsonString() ?? "(default)"} (checkpoint: {theirs[kv.Key]?.ToJsonString() ?? "(default)"})")
            .ToList();
        if (different.Count > 0)
            throw new InvalidInputException($"cannot resume: the settings differ from the checkpoint's: {string.Join("; ", different)}. " +
                "Drop these flags to continue the run as it was, or start a new run in another --out folder.");
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingConfig FromJson(string json) => JsonSerializer.Deserialize<TrainingConfig>(json, Json)!;
}
