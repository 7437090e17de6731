using System.CommandLine;
using System.Diagnostics;
using Minnow.Training;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow data prepare</c>: tokenizes a corpus into the binary token files <c>minnow train</c> reads.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Prepare training data.");
        command.Subcommands.Add(CreatePrepare());
        return command;
    }

    private static Command CreatePrepare()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "UTF-8 text files, taken as one text in the order given.", Required = true, AllowMultipleArgumentsPerToken = true, HelpName = "FILES",
        };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Tokenizer file (e.g. the tokenizer.json of `minnow tokenizer train`).", Required = true, HelpName = "PATH" };
        var output = new Option<string>("--output") { Description = "Folder to write train.bin, val.bin, val.txt and meta.json into.", Required = true, HelpName = "DIR" };
        var valFraction = new Option<double>("--val-fraction")
        {
            Description = "Fraction of the text's bytes held out for validation: the LAST part of the text (the split moves back to a UTF-8 character start).",
            DefaultValueFactory = _ => 0.1, HelpName = "F",
        };
        var threads = Cli.ThreadsOption();
        var json = Cli.JsonOption();
        var command = new Command("prepare",
            "Tokenize a corpus (in parallel) into binary token files for `minnow train`: train.bin and val.bin (uint16 ids when the vocabulary fits, else uint32), " +
            "val.txt (the validation text, for `minnow eval perplexity`) and meta.json.")
        {
            input, tokenizer, output, valFraction, threads, json,
        };
        command.SetAction((parse, cancellationToken) => Cli.RunAsync(() =>
        {
            var clock = Stopwatch.StartNew();
            var meta = Progress.Run("tokenizing", (IProgress<DataPrepareProgress> p) =>
                TokenShards.Prepare(parse.GetValue(input)!, parse.GetValue(tokenizer)!, parse.GetValue(output)!, parse.GetValue(valFraction),
                    parse.GetValue(threads), p, cancellationToken),
                p => (p.Bytes, p.Total), unit: "B");
            if (parse.GetValue(json))
                Cli.WriteJson(new
                {
                    Output = parse.GetValue(output),
                    meta.Dtype,
                    meta.VocabSize,
                    meta.TotalBytes,
                    meta.SplitByte,
                    meta.TrainTokens,
                    meta.ValTokens,
                    Seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
                });
            else
                Console.Error.WriteLine($"wrote {parse.GetValue(output)}: {meta.TrainTokens:N0} train and {meta.ValTokens:N0} validation tokens ({meta.Dtype}) " +
                    $"from {meta.TotalBytes:N0} bytes, split at byte {meta.SplitByte:N0}, in {clock.Elapsed.TotalSeconds:F1} s");
            return Task.FromResult(0);
        }));
        return command;
    }
}
