using System.Diagnostics;
using Minnow.Formats.Gguf;
using Minnow.Formats.HuggingFace;
using Minnow.Formats.Safetensors;
using Minnow.Tensors;
using Minnow.Tokenizers;

namespace Minnow.Training;

/// <summary>One finished step of <see cref="Trainer.Run"/>; <see cref="ValLoss"/> is set on steps that measured it.</summary>
public sealed record TrainingProgress(int Step, int Steps, int StartStep, float Loss, float LearningRate, float? ValLoss, long TokensPerStep);

/// <summary>What a run did.</summary>
public sealed record TrainingResult
{
    /// <summary>0 for a fresh run, the checkpoint's step when resumed.</summary>
    public required int StartStep { get; init; }
    /// <summary>Steps done (counting those before a resume).</summary>
    public required int Steps { get; init; }
    /// <summary>Training loss of every step from step 1.</summary>
    public required float[] Losses { get; init; }
    public required ValidationLoss[] ValLosses { get; init; }
    public float? BestValLoss { get; init; }
    /// <summary>Training tokens per second of this process's steps.</summary>
    public required double TokensPerSecond { get; init; }
    public required string Checkpoint { get; init; }
    /// <summary>True when every configured step is done (and the model exported); false after --stop-after or an interruption.</summary>
    public required bool Finished { get; init; }
    /// <summary>The exported HF folder and GGUF file (when finished).</summary>
    public string? Model { get; init; }
    public string? Gguf { get; init; }
    /// <summary>Why there is no GGUF file although the run finished (its tokenizer has no GGUF form), else null.</summary>
    public string? GgufSkipped { get; init; }
    /// <summary>The step whose weights were exported (the best validation loss, else the last step).</summary>
    public int? ExportedStep { get; init; }
    public required double Seconds { get; init; }
}

/// <summary>
/// The training loop: random windows of a prepared data folder, AdamW with nanoGPT's warm-up + cosine schedule,
/// global-norm clipping and gradient accumulation; validation loss every few steps (the weights with the best one are
/// kept in <c>best.safetensors</c>); atomic checkpoints that a resumed run continues bit for bit; a loss-curve SVG;
/// and, at the end, the model exported as a HF folder (<c>model/</c>: config.json, model.safetensors, tokenizer.json)
/// and a GGUF file (<c>model.gguf</c>) with the tokenizer inside.
/// </summary>
public static class Trainer
{
    public const string BestFileName = "best.safetensors";
    public const string LossCurveFileName = "loss.svg";
    public const string ModelFolderName = "model";
    public const string GgufFileName = "model.gguf";

    /// <param name="config">The run (validated here). When resuming, it must agree with the checkpoint's (see <see cref="TrainingConfig.CheckResumable"/>).</param>
    /// <param name="resume">Continue from the checkpoint in <see cref="TrainingConfig.Out"/>.</param>
    /// <param name="stopAfter">End after this step as an interruption would (checkpoint, no export).</param>
    /// <param name="progress">Told after every step.</param>
    /// <param name="cancellationToken">Cancelling ends the run after the current step, with a checkpoint (Ctrl-C).</param>
    public static TrainingResult Run(TrainingConfig config, bool resume = false, int? stopAfter = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        config.Validate();
        if (stopAfter is <= 0)
            throw new InvalidInputException($"--stop-after must be positive, got {stopAfter}");
        if (!File.Exists(config.Tokenizer))
            throw new InvalidInputException($"{config.Tokenizer}: tokenizer not found");
        using var shards = TokenShards.Open(config.Data);
        var tokenizer = TokenizerLoader.Load(config.Tokenizer);
        string tokenizerHash = TokenShardsMeta.Sha256Of(config.Tokenizer);
        if (tokenizer.VocabSize != shards.Meta.VocabSize || tokenizerHash != shards.Meta.TokenizerSha256)
            throw new InvalidInputException($"{config.Tokenizer} ({tokenizer.VocabSize} tokens) is not the tokenizer {config.Data} was prepared with " +
                $"({shards.Meta.VocabSize} tokens, sha256 {shards.Meta.TokenizerSha256[..12]}…): pass that tokenizer or prepare the data again");
        if (shards.ValTokens > 0 && shards.ValTokens < config.SeqLen + 1)
            throw new InvalidInputException($"the validation split has {shards.ValTokens} tokens, fewer than seq-len + 1 = {config.SeqLen + 1}: " +
                "prepare the data with a larger --val-fraction or use a shorter --seq-len");

        Directory.CreateDirectory(config.Out);
        string checkpointPath = Path.Combine(config.Out, TrainingCheckpoint.FileName);
        string bestPath = Path.Combine(config.Out, BestFileName);
        TrainingState? saved = null;
        if (resume)
        {
            saved = TrainingCheckpoint.ReadState(checkpointPath);
            config.CheckResumable(saved.Config);
            if (saved.TokenizerSha256 != tokenizerHash)
                throw new InvalidInputException($"{config.Tokenizer} is not the tokenizer the checkpoint was trained with");
        }
        else if (File.Exists(checkpointPath))
            throw new InvalidInputException($"{checkpointPath} exists: pass --resume to continue that run, or choose another --out folder");

        int threads = config.Threads > 0 ? config.Threads : Environment.ProcessorCount;
        var modelConfig = config.ModelConfig(tokenizer.VocabSize);
        using TrainableModel model = config.Arch == "gpt2"
            ? TrainableGpt2.Create(modelConfig, config.Seed, threads)
            : TrainableLlama.Create(modelConfig, config.Seed, threads);
        var optimizer = new AdamW(model.Parameters, model.Pool, beta1: 0.9f, beta2: config.Beta2, eps: 1e-8f, weightDecay: config.WeightDecay);
        // The data order has its own stream, so changing the initialisation never changes the batches.
        var sampler = new BatchSampler(shards, config.SeqLen, config.Seed ^ 0x5DEECE66DUL);
        var losses = new List<float>();
        var validation = new List<ValidationLoss>();
        float? best = null;
        double previousSeconds = 0;
        if (saved is not null)
        {
            saved = TrainingCheckpoint.Load(checkpointPath, model, optimizer);
            sampler.State = saved.SamplerState;
            losses.AddRange(saved.Losses);
            validation.AddRange(saved.ValLosses);
            best = saved.BestValLoss;
            previousSeconds = saved.Seconds;
        }
        int startStep = saved?.Step ?? 0;
        if (startStep > config.Steps)
            throw new InvalidInputException($"the checkpoint is at step {startStep}, past --steps {config.Steps}");

        var clock = Stopwatch.StartNew();
        double stepSeconds = 0;
        int step = startStep, lastSaved = saved is null ? -1 : startStep;
        TrainingState State() => new()
        {
            Step = step, Config = config, SamplerState = sampler.State, Losses = [.. losses], ValLosses = [.. validation],
            BestValLoss = best, Seconds = previousSeconds + clock.Elapsed.TotalSeconds, TokenizerSha256 = tokenizerHash,
        };
        void Checkpoint()
        {
            TrainingCheckpoint.Save(checkpointPath, model, optimizer, State());
            lastSaved = step;
        }
        void WriteCurve() => AtomicFile.WriteAllText(Path.Combine(config.Out, LossCurveFileName),
            LossCurve.Svg(losses, validation.Select(v => (v.Step, v.Loss)).ToList(), config.Steps, $"{Path.GetFileName(Path.GetFullPath(config.Out))}: {config.Arch} {config.Dim}x{config.Layers}"));

        bool stopped = false;
        while (step < config.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                stopped = true;
                break;
            }
            long started = Stopwatch.GetTimestamp();
            float lr = LearningRate.WarmupCosine(step, config.Lr, config.MinLearningRate, config.WarmupSteps, config.Steps);
            model.Parameters.ZeroGradients();
            float loss = 0;
            for (int micro = 0; micro < config.GradAccum; micro++)
                loss += model.ForwardBackward(sampler.Next(config.BatchSize), 1f / config.GradAccum) / config.GradAccum;
            if (config.GradClip > 0)
                GradientClipping.ClipGlobalNorm(model.Parameters, config.GradClip);
            optimizer.Step(lr);
            stepSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
            step++;
            losses.Add(loss);
            if (!float.IsFinite(loss))
            {
                Checkpoint();
                throw new InvalidInputException($"the training loss is {loss} at step {step}: lower --lr or raise --warmup (checkpoint saved)");
            }

            float? val = null;
            if (shards.ValTokens > 0 && ((config.EvalInterval > 0 && step % config.EvalInterval == 0) || step == config.Steps))
            {
                val = ValidationLoss(model, shards, config);
                validation.Add(new ValidationLoss(step, val.Value));
                if (best is null || val < best)
                {
                    best = val;
                    SafetensorsWriter.Write(bestPath, model.Parameters.Parameters.Select(p => p.Value),
                        new Dictionary<string, string> { ["format"] = "pt", ["minnow.step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                }
                WriteCurve();
            }
            progress?.Report(new TrainingProgress(step, config.Steps, startStep, loss, lr, val, config.TokensPerStep));
            if ((config.CheckpointInterval > 0 && step % config.CheckpointInterval == 0) || step == config.Steps || step == stopAfter)
                Checkpoint();
            if (step == stopAfter)
            {
                stopped = true;
                break;
            }
        }
        if (lastSaved != step)
            Checkpoint();
        WriteCurve();

        string? folder = null, gguf = null, ggufSkipped = null;
        int? exportedStep = null;
        if (!stopped && step == config.Steps)
            (folder, gguf, ggufSkipped, exportedStep) = Export(config, model, tokenizer, bestPath, step, threads);
        return new TrainingResult
        {
            StartStep = startStep,
            Steps = step,
            Losses = [.. losses],
            ValLosses = [.. validation],
            BestValLoss = best,
            TokensPerSecond = stepSeconds > 0 ? (double)(step - startStep) * config.TokensPerStep / stepSeconds : 0,
            Checkpoint = checkpointPath,
            Finished = !stopped && step == config.Steps,
            Model = folder,
            Gguf = gguf,
            GgufSkipped = ggufSkipped,
            ExportedStep = exportedStep,
            Seconds = previousSeconds + clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Mean token cross-entropy over the validation batches (the same windows every time).</summary>
    public static float ValidationLoss(TrainableModel model, TokenShards shards, TrainingConfig config)
    {
        double sum = 0;
        long tokens = 0;
        foreach (var batch in BatchSampler.Validation(shards, config.SeqLen, config.BatchSize, config.EvalBatches))
        {
            sum += (double)model.Loss(batch) * batch.Tokens;
            tokens += batch.Tokens;
        }
        return (float)(sum / tokens);
    }

    /// <summary>
    /// Writes the weights with the best validation loss (else the current ones) as a HF folder with the tokenizer
    /// and as GGUF (when the tokenizer has a GGUF form: byte-level BPE or SentencePiece, not the character tokenizer),
    /// both stored as the configured type.
    /// </summary>
    private static (string Folder, string? Gguf, string? GgufSkipped, int Step) Export(TrainingConfig config, TrainableModel model, ITokenizer tokenizer, string bestPath, int step, int threads)
    {
        int exported = step;
        if (File.Exists(bestPath))
        {
            using var best = SafetensorsFile.Open(bestPath);
            foreach (var p in model.Parameters.Parameters)
                best.Tensor(p.Name).AsFloats().CopyTo(p.Value.AsFloats());
            exported = int.Parse(best.Metadata["minnow.step"], System.Globalization.CultureInfo.InvariantCulture);
        }
        var dtype = config.ExportType switch { "f32" => DType.F32, "bf16" => DType.BF16, _ => DType.F16 };
        using var inference = model.CreateInferenceModel(threads);
        string folder = Path.Combine(config.Out, ModelFolderName);
        HfModelWriter.Write(folder, inference, dtype);
        // The tokenizer file itself when it is a tokenizer.json (byte for byte), else converted.
        if (string.Equals(Path.GetExtension(config.Tokenizer), ".json", StringComparison.OrdinalIgnoreCase))
            File.Copy(config.Tokenizer, Path.Combine(folder, "tokenizer.json"), overwrite: true);
        else
            TokenizerJson.Save(tokenizer, Path.Combine(folder, "tokenizer.json"));
        List<KeyValuePair<string, GgufValue>> tokenizerKeys;
        try
        {
            tokenizerKeys = GgufTokenizerMetadata.From(tokenizer, null).ToList();
        }
        catch (InvalidInputException e)
        {
            return (folder, null, e.Message, exported);
        }
        string gguf = Path.Combine(config.Out, GgufFileName);
        string temp = gguf + ".tmp";
        GgufModelWriter.Write(temp, inference, Minnow.Compression.Quantization.QuantizationMix.Parse(config.ExportType), tokenizerKeys, Path.GetFileName(Path.GetFullPath(config.Out)));
        File.Move(temp, gguf, overwrite: true);
        return (folder, gguf, null, exported);
    }
}
