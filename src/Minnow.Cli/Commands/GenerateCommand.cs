using System.CommandLine;
using System.Diagnostics;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow generate</c>: continue a prompt with a model, streaming the text as it is produced.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var defaults = new SamplingOptions();
        var model = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (encoded with the model's BOS token).", HelpName = "TEXT" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, used verbatim (no BOS added).", HelpName = "1,2,3" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "New tokens to generate at most (the prompt is not counted).", DefaultValueFactory = _ => 256, HelpName = "N" };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 means greedy (always the most likely token). Default: the model's generation_config, else 0.8.", DefaultValueFactory = _ => defaults.Temperature, HelpName = "T" };
        var topK = new Option<int>("--top-k") { Description = "Sample only among the K most likely tokens (0 = off).", DefaultValueFactory = _ => defaults.TopK, HelpName = "K" };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling: the smallest set of tokens whose probabilities sum to P (1 = off).", DefaultValueFactory = _ => defaults.TopP, HelpName = "P" };
        var minP = new Option<float>("--min-p") { Description = "Drop tokens less likely than P times the most likely one (0 = off).", DefaultValueFactory = _ => defaults.MinP, HelpName = "P" };
        var repeatPenalty = new Option<float>("--repeat-penalty") { Description = "Penalise tokens seen in the last 64 tokens (1 = off; 1.1 is typical).", DefaultValueFactory = _ => defaults.RepeatPenalty, HelpName = "R" };
        var beams = new Option<int>("--beams") { Description = "Beam search with N beams (1 = sample or greedy; beam search ignores the sampling options).", DefaultValueFactory = _ => 1, HelpName = "N" };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "Beam search score = log-probability / length^L (0 = no length normalisation).", DefaultValueFactory = _ => 1.0, HelpName = "L" };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Seed for sampling: the same seed, threads and input give the same tokens (default: random).", HelpName = "S" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (repeatable; not with --beams); the stop text is not printed.", HelpName = "TEXT", AllowMultipleArgumentsPerToken = false };
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var json = Cli.JsonOption();

        var command = new Command("generate", "Continue a prompt with a language model, streaming the text to stdout.")
        {
            model, tokenizer, prompt, promptIds, maxTokens, temperature, topK, topP, minP, repeatPenalty, beams, lengthPenalty, seed, stop, threads, kvCache, noRepack, json,
        };
        command.SetAction((parse, cancellationToken) => Cli.RunAsync(async () =>
        {
            string? promptText = parse.GetValue(prompt), idsText = parse.GetValue(promptIds);
            if ((promptText is null) == (idsText is null))
                throw new InvalidInputException("give exactly one of --prompt TEXT or --prompt-ids 1,2,3");
            int beamCount = parse.GetValue(beams);
            if (beamCount < 1)
                throw new InvalidInputException($"--beams must be at least 1, got {beamCount}");
            bool asJson = parse.GetValue(json);
            var clock = Stopwatch.StartNew();
            using var loaded = Cli.LoadModel(parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(threads), parse.GetValue(kvCache), parse.GetValue(noRepack));
            double loadSeconds = clock.Elapsed.TotalSeconds;

            // The model's recommended settings (HF generation_config.json) apply unless an option is given.
            var modelDefaults = loaded.SamplingDefaults ?? defaults;
            T Pick<T>(Option<T> option, T fallback) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : fallback;
            ulong seedValue = parse.GetValue(seed) ?? (ulong)Random.Shared.NextInt64();
            var sampling = modelDefaults with
            {
                Temperature = Pick(temperature, modelDefaults.Temperature),
                TopK = Pick(topK, modelDefaults.TopK),
                TopP = Pick(topP, modelDefaults.TopP),
                MinP = Pick(minP, modelDefaults.MinP),
                RepeatPenalty = Pick(repeatPenalty, modelDefaults.RepeatPenalty),
                Seed = seedValue,
            };
            sampling.Validate();
            var tok = loaded.Tokenizer;

            int[] ids;
            if (idsText is not null)
                ids = Cli.ParseIds(idsText, "--prompt-ids");
            else if (tok is null)
                throw new InvalidInputException($"{loaded.Source} has no tokenizer: pass --tokenizer FILE, or give --prompt-ids");
            else
                ids = tok.Encode(promptText!, addSpecial: true);
            if (ids.Length == 0)
                throw new InvalidInputException("the prompt is empty: give at least one token");
            foreach (int id in ids)
                if ((uint)id >= (uint)loaded.Model.Config.VocabSize)
                    throw new InvalidInputException($"--prompt-ids: id {id} is outside the model's vocabulary [0, {loaded.Model.Config.VocabSize})");
            if (ids.Length > loaded.Model.Config.ContextLength)
                throw new ContextLengthException(ids.Length, loaded.Model.Config.ContextLength);

            var options = new GenerationOptions
            {
                MaxTokens = parse.GetValue(maxTokens),
                Sampling = sampling,
                StopTokens = loaded.StopTokens,
                StopSequences = parse.GetValue(stop) ?? [],
            };
            var stats = beamCount > 1
                ? RunBeamSearch(loaded, ids, options, beamCount, parse.GetValue(lengthPenalty), asJson, cancellationToken)
                : await Stream(loaded, ids, options, asJson, cancellationToken);

            if (asJson)
                Cli.WriteJson(new
                {
                    Text = tok?.Decode(stats.GeneratedIds.Where(id => !loaded.StopTokens.Contains(id)).ToArray(), skipSpecial: true),
                    PromptIds = ids,
                    GeneratedIds = stats.GeneratedIds,
                    PromptTokens = ids.Length,
                    GeneratedTokens = stats.GeneratedIds.Count,
                    FinishReason = stats.FinishReason?.ToString().ToLowerInvariant(),
                    Seed = seedValue,
                    LoadSeconds = loadSeconds,
                    PrefillTokensPerSecond = stats.PrefillTokensPerSecond,
                    DecodeTokensPerSecond = stats.DecodeTokensPerSecond,
                });
            else
                Console.Error.WriteLine($"[{ids.Length} prompt tokens, {stats.GeneratedIds.Count} generated ({stats.FinishReason?.ToString().ToLowerInvariant()}); " +
                    $"load {loadSeconds:F2} s, prefill {stats.PrefillTokensPerSecond:F1} tok/s, decode {stats.DecodeTokensPerSecond:F1} tok/s]");
            return 0;
        }));
        return command;
    }

    /// <summary>Samples token by token, printing each piece of text as soon as it is complete.</summary>
    private static async Task<GenerationStats> Stream(LoadedModel loaded, int[] ids, GenerationOptions options, bool asJson, CancellationToken cancellationToken)
    {
        var stats = new GenerationStats();
        var generator = new Generator(loaded.Model, loaded.Tokenizer);
        try
        {
            await foreach (var token in generator.GenerateAsync(ids, options, stats, cancellationToken))
            {
                if (asJson)
                    continue;
                if (loaded.Tokenizer is null)
                    Console.Out.Write(stats.GeneratedIds.Count == 1 ? $"{token.Id}" : $",{token.Id}");
                else
                    Console.Out.Write(Cli.Printable(token.Text));
                Console.Out.Flush();
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C ends the generation early; what was produced is still reported.
            Console.Error.WriteLine();
            Console.Error.WriteLine("cancelled");
        }
        if (!asJson)
            Console.Out.WriteLine();
        return stats;
    }

    private static GenerationStats RunBeamSearch(LoadedModel loaded, int[] ids, GenerationOptions options, int beams, double lengthPenalty,
        bool asJson, CancellationToken cancellationToken)
    {
        var stats = new GenerationStats();
        BeamSearch.Run(loaded.Model, ids, beams, options.MaxTokens, loaded.StopTokens, lengthPenalty, stats, cancellationToken);
        if (!asJson)
            Console.Out.WriteLine(Cli.Printable(loaded.Tokenizer?.Decode(stats.GeneratedIds.Where(id => !loaded.StopTokens.Contains(id)).ToArray(), skipSpecial: true)
                ?? string.Join(",", stats.GeneratedIds)));
        return stats;
    }
}
