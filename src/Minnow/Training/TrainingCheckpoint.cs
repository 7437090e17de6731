using System.Text.Json;
using Minnow.Formats.Safetensors;
using Minnow.Tensors;

namespace Minnow.Training;

/// <summary>Where a run stands, saved in a checkpoint's metadata.</summary>
public sealed record TrainingState
{
    /// <summary>Optimizer steps done.</summary>
    public required int Step { get; init; }
    public required TrainingConfig Config { get; init; }
    /// <summary>The batch sampler's RNG state: the data position.</summary>
    public required ulong SamplerState { get; init; }
    /// <summary>Training loss of every step from step 1.</summary>
    public required float[] Losses { get; init; }
    public required ValidationLoss[] ValLosses { get; init; }
    public float? BestValLoss { get; init; }
    /// <summary>Seconds spent training so far (over every resume).</summary>
    public double Seconds { get; init; }
    /// <summary>SHA-256 of the tokenizer file the data was prepared with.</summary>
    public required string TokenizerSha256 { get; init; }
}

/// <summary>A validation loss measured after <paramref name="Step"/> steps.</summary>
public sealed record ValidationLoss(int Step, float Loss);

/// <summary>
/// A training checkpoint: one safetensors file with the fp32 parameters (HF names), the optimizer's state
/// (<c>adamw.exp_avg.*</c>, <c>adamw.exp_avg_sq.*</c>) and a <c>minnow.training</c> metadata entry (JSON of
/// <see cref="TrainingState"/>: step, config, data position, losses). Written to a temporary file, flushed to disk and
/// renamed over the previous one, so a crash at any moment leaves the last complete checkpoint.
/// </summary>
public static class TrainingCheckpoint
{
    public const string FileName = "checkpoint.safetensors";
    private const string MetadataKey = "minnow.training";

    public static void Save(string path, TrainableModel model, IOptimizer optimizer, TrainingState state)
    {
        var tensors = model.Parameters.Parameters.Select(p => p.Value).Concat(optimizer.State);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "minnow-training-checkpoint",
            [MetadataKey] = JsonSerializer.Serialize(state, TrainingConfig.Json),
        };
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>Reads only the state (config, step, losses) of a checkpoint.</summary>
    public static TrainingState ReadState(string path)
    {
        using var file = Open(path);
        return State(file);
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="model"/> and <paramref name="optimizer"/> (made with the checkpoint's
    /// config) and returns its state. Every parameter and optimizer tensor must be present with its shape.
    /// </summary>
    public static TrainingState Load(string path, TrainableModel model, IOptimizer optimizer)
    {
        using var file = Open(path);
        var state = State(file);
        foreach (var target in model.Parameters.Parameters.Select(p => p.Value).Concat(optimizer.State))
        {
            if (!file.Contains(target.Name))
                throw new ModelFormatException(path, $"the checkpoint has no tensor '{target.Name}' (was it made with another model config?)");
            var source = file.Tensor(target.Name);
            if (source.DType != DType.F32 || !source.Shape.SequenceEqual(target.Shape))
                throw new ModelFormatException(path, $"tensor '{target.Name}' is {source.DType} [{string.Join(", ", source.Shape)}], expected F32 [{string.Join(", ", target.Shape)}]");
            source.AsFloats().CopyTo(target.AsFloats());
        }
        optimizer.StepCount = state.Step;
        return state;
    }

    private static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new InvalidInputException($"{path}: no checkpoint to resume from (start the run without --resume)");
        return SafetensorsFile.Open(path);
    }

    private static TrainingState State(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue(MetadataKey, out string? json))
            throw new ModelFormatException(file.Path, $"not a Minnow training checkpoint (no '{MetadataKey}' metadata)");
        try
        {
            return JsonSerializer.Deserialize<TrainingState>(json, TrainingConfig.Json)
                ?? throw new ModelFormatException(file.Path, "empty training state");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(file.Path, $"unreadable training state: {e.Message}");
        }
    }
}
