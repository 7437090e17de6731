using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Minnow.Training;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Minnow.Cli.Commands;

/// <summary>
/// <c>minnow train</c>: trains a Llama or GPT-2 model from scratch on a prepared data folder. Every setting of
/// <see cref="TrainingConfig"/> is a flag and a key of the optional YAML --config (flags win).
/// </summary>
public static class TrainCommand
{
    public const string Name = "train";

    /// <summary>Each setting's flag (the snake_case name with dashes), its value name and its help.</summary>
    private static readonly (string Setting, string Value, string Help)[] Settings =
    [
        ("data", "DIR", "Data folder written by `minnow data prepare`."),
        ("tokenizer", "PATH", "The tokenizer the data was prepared with (checked against the data; exported with the model)."),
        ("out", "DIR", "Output folder: checkpoint.safetensors, best.safetensors, loss.svg, and at the end model/ (HF folder) and model.gguf."),
        ("arch", "llama|gpt2", "Architecture. Default: llama (RMSNorm, RoPE, SwiGLU, tied embeddings)."),
        ("dim", "D", "Model width. Default: 256."),
        ("layers", "L", "Transformer layers. Default: 6."),
        ("heads", "H", "Attention heads. Default: 8."),
        ("kv-heads", "K", "Key/value heads (grouped-query attention, llama only). Default: --heads."),
        ("hidden-dim", "F", "Feed-forward width. Default: 2/3·4·dim rounded up to 32 (llama), 4·dim (gpt2)."),
        ("seq-len", "S", "Tokens per training sequence; also the model's context length. Default: 256."),
        ("batch-size", "B", "Sequences per micro-batch. Default: 16."),
        ("grad-accum", "N", "Micro-batches accumulated per optimizer step. Default: 1."),
        ("steps", "N", "Optimizer steps. Default: 1000."),
        ("lr", "LR", "Peak learning rate of AdamW. Default: 0.001."),
        ("warmup", "N", "Linear warm-up steps. Default: 5% of the steps, at most 100."),
        ("min-lr", "LR", "Learning rate at the end of the cosine decay. Default: lr/10."),
        ("weight-decay", "W", "AdamW decoupled weight decay (matrices only). Default: 0.1."),
        ("beta2", "B2", "AdamW beta2. Default: 0.99."),
        ("grad-clip", "C", "Clip the global gradient norm to C (0 = off). Default: 1."),
        ("eval-interval", "N", "Validation loss and perplexity every N steps (and at the end; 0 = only at the end). Default: 100."),
        ("eval-batches", "N", "At most N batches of the validation split per evaluation. Default: 20."),
        ("checkpoint-interval", "N", "Checkpoint every N steps (and at the end, at --stop-after and on Ctrl-C; 0 = only then). Default: 100."),
        ("seed", "S", "Seed of the initialisation and the data order. Default: 1337."),
        ("threads", "T", "Threads (results do not depend on it). Default: one per core."),
        ("export-type", "f32|f16|bf16", "Stored type of the exported model's weights. Default: f16."),
    ];

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "YAML file of settings (keys as the flags, in snake_case or kebab-case: dim: 256, seq_len: 128); flags override it.", HelpName = "FILE.yaml" };
        var options = Settings.Select(s => (s.Setting, Option: new Option<string?>("--" + s.Setting) { Description = s.Help, HelpName = s.Value })).ToList();
        var resume = new Option<bool>("--resume") { Description = "Continue the run whose checkpoint is in --out: same schedule, data order and losses as an uninterrupted run. Settings default to the checkpoint's." };
        var stopAfter = new Option<int?>("--stop-after") { Description = "End after step N as an interruption would (checkpoint, exit 0, no export); --resume finishes the run.", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "At the end, write one JSON object to stdout: start_step, steps, losses (every step), val_losses, best_val_loss, tokens_per_second, checkpoint, …" };
        var command = new Command(Name,
            "Train a language model from scratch on a prepared data folder, with checkpoints (Ctrl-C or SIGTERM saves one and stops), validation, a loss curve (loss.svg) and, at the end, " +
            "the model exported as a HF folder and as GGUF.")
        {
            config, resume, stopAfter, json,
        };
        foreach (var (_, option) in options)
            command.Options.Add(option);
        command.SetAction(parse => Cli.Run(() =>
        {
            var settings = new List<KeyValuePair<string, string>>();
            if (parse.GetValue(config) is string path)
                settings.AddRange(ReadYaml(path));
            foreach (var (setting, option) in options)
                if (parse.GetValue(option) is string value)
                    settings.Add(new(setting, value));
            bool resuming = parse.GetValue(resume);
            var run = TrainingConfig.With(settings);
            if (resuming)
            {
                // Unset settings come from the checkpoint, so `--out DIR --resume` is enough.
                if (run.Out.Length == 0)
                    throw new InvalidInputException("--out is required (the folder of the run to resume)");
                var saved = TrainingCheckpoint.ReadState(Path.Combine(run.Out, TrainingCheckpoint.FileName));
                run = TrainingConfig.With(settings, saved.Config);
            }
            return Train(run, resuming, parse.GetValue(stopAfter), parse.GetValue(json));
        }));
        return command;
    }

    private static int Train(TrainingConfig config, bool resume, int? stopAfter, bool json)
    {
        config.Validate();
        using var cancel = new CancellationTokenSource();
        // Ctrl-C (SIGINT) or `kill` (SIGTERM) ends the run after the current step with a checkpoint; a second one
        // ends the process at once.
        void Stop(PosixSignalContext context)
        {
            context.Cancel = !cancel.IsCancellationRequested;
            cancel.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        TrainingResult result;
        {
            float? lastVal = null;
            float smoothed = float.NaN;
            result = Progress.Run("training", (IProgress<TrainingProgress> p) => Trainer.Run(config, resume, stopAfter, new Reporter(report =>
            {
                smoothed = float.IsNaN(smoothed) ? report.Loss : 0.9f * smoothed + 0.1f * report.Loss;
                if (report.ValLoss is float val)
                {
                    lastVal = val;
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"step {report.Step}/{report.Steps}: train loss {smoothed:F4}, val loss {val:F4}, val perplexity {Math.Exp(val):F2}"));
                }
                p.Report(report);
            }), cancel.Token),
            r => ((long)(r.Step - r.StartStep) * r.TokensPerStep, (long)(r.Steps - r.StartStep) * r.TokensPerStep),
            unit: "tok",
            describe: r => string.Create(CultureInfo.InvariantCulture,
                $"step {r.Step}/{r.Steps} loss {smoothed:F3}{(lastVal is float v ? $" val {v:F3}" : "")} lr {r.LearningRate:G3}"));
        }
        if (result.GgufSkipped is not null)
            Console.Error.WriteLine($"note: no GGUF export: {result.GgufSkipped}");
        if (!result.Finished)
            Console.Error.WriteLine($"stopped after step {result.Steps} of {config.Steps}; checkpoint {result.Checkpoint}. Continue with: minnow train --out {config.Out} --resume");
        else
            Console.Error.WriteLine($"done: {result.Steps} steps in {result.Seconds:F0} s ({result.TokensPerSecond:N0} tok/s), best val loss {result.BestValLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}; " +
                $"model: {result.Model}{(result.Gguf is null ? "" : $" and {result.Gguf}")} (weights of step {result.ExportedStep}); loss curve: {Path.Combine(config.Out, Trainer.LossCurveFileName)}");
        if (json)
            Cli.WriteJson(new
            {
                result.StartStep,
                result.Steps,
                result.Losses,
                ValLosses = result.ValLosses.Select(v => new { v.Step, v.Loss }),
                result.BestValLoss,
                TokensPerSecond = Math.Round(result.TokensPerSecond, 1),
                result.Checkpoint,
                result.Finished,
                result.Model,
                result.Gguf,
                result.ExportedStep,
                Seconds = Math.Round(result.Seconds, 3),
            });
        return 0;
    }

    /// <summary>Settings of a YAML file: a flat mapping of setting names to scalars.</summary>
    private static IEnumerable<KeyValuePair<string, string>> ReadYaml(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        Dictionary<string, object?>? map;
        try
        {
            map = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object?>>(File.ReadAllText(path));
        }
        catch (YamlException e)
        {
            throw new InvalidInputException($"{path}: not a YAML mapping of settings ({e.Message})");
        }
        foreach (var (key, value) in map ?? [])
        {
            if (value is not string text)
                throw new InvalidInputException($"{path}: setting '{key}' must be a single value");
            yield return new(key, text);
        }
    }

    /// <summary>Calls back synchronously on the training thread.</summary>
    private sealed class Reporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
