using System.CommandLine;
using Minnow.Evaluation;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow eval</c>: measure a model. <c>perplexity</c> scores a text file.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Evaluate a model.");
        command.Subcommands.Add(PerplexityCommand());
        return command;
    }

    private static Command PerplexityCommand()
    {
        var model = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var data = new Option<string>("--data") { Description = "UTF-8 text file to score.", Required = true, HelpName = "FILE" };
        var context = new Option<int?>("--context") { Description = "Window length in tokens (default: the model's context); windows advance by half of it.", HelpName = "N" };
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var json = Cli.JsonOption();
        var command = new Command("perplexity",
            "Perplexity of a text: mean loss in nats per token, and bits per byte (comparable across tokenizers). Long texts are scored with a sliding window of stride half the context, each token once.")
        {
            model, tokenizer, data, context, threads, kvCache, noRepack, json,
        };
        command.SetAction((parse, cancellationToken) => Cli.RunAsync(() =>
        {
            string path = parse.GetValue(data)!;
            if (!File.Exists(path))
                throw new FileNotFoundException($"{path}: file not found", path);
            string text = File.ReadAllText(path);
            using var loaded = Cli.LoadModel(parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(threads), parse.GetValue(kvCache), parse.GetValue(noRepack));
            var tok = loaded.Tokenizer ?? throw new InvalidInputException($"{loaded.Source} has no tokenizer: pass --tokenizer FILE");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = Progress.Run("scoring", (IProgress<PerplexityProgress> p) =>
                Perplexity.Evaluate(loaded.Model, tok, text, parse.GetValue(context), p, cancellationToken),
                p => (p.Scored, p.Total));
            if (parse.GetValue(json))
                Cli.WriteJson(new
                {
                    MeanLoss = result.MeanLoss,
                    Perplexity = result.Perplexity,
                    Tokens = result.Tokens,
                    Bytes = result.Bytes,
                    BitsPerByte = result.BitsPerByte,
                    Seconds = clock.Elapsed.TotalSeconds,
                });
            else
                Console.Out.WriteLine($"{result.Tokens:N0} tokens, {result.Bytes:N0} bytes: mean loss {result.MeanLoss:F4} nats/token, " +
                    $"perplexity {result.Perplexity:F3}, {result.BitsPerByte:F4} bits/byte ({clock.Elapsed.TotalSeconds:F1} s)");
            return Task.FromResult(0);
        }));
        return command;
    }
}
