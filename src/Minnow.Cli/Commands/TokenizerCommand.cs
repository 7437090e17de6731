using System.CommandLine;
using System.Diagnostics;
using Minnow.Tokenizers;
using Minnow.Tokenizers.Training;
using Spectre.Console;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow tokenizer train</c>: trains a byte-level BPE or a character-level tokenizer and saves it as tokenizer.json.</summary>
public static class TokenizerCommand
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Make tokenizers.");
        command.Subcommands.Add(CreateTrain());
        return command;
    }

    private static Command CreateTrain()
    {
        var inputOption = new Option<string>("--input") { Description = "UTF-8 text corpus to train on.", Required = true };
        var vocabSizeOption = new Option<int>("--vocab-size")
        {
            Description = "Target vocabulary size, including the 256 byte tokens and the special tokens (BPE stops earlier when no pair occurs twice).",
            Required = true,
        };
        var kindOption = new Option<string>("--kind")
        {
            Description = "bpe: byte-level BPE with GPT-2's split regex; char: one token per frequent character, other characters as UTF-8 byte tokens.",
            DefaultValueFactory = _ => "bpe",
        };
        kindOption.AcceptOnlyFromAmong("bpe", "char");
        var specialOption = new Option<string[]>("--special")
        {
            Description = "Special tokens to reserve (ids 0, 1, ...), e.g. --special \"<|endoftext|>\" \"<|pad|>\".",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [],
        };
        var outputOption = new Option<string>("--output") { Description = "Where to write the tokenizer.json.", Required = true };
        var jsonOption = Cli.JsonOption();
        var command = new Command("train", "Train a tokenizer on a text corpus and save it as an HF-compatible tokenizer.json.")
        {
            inputOption, vocabSizeOption, kindOption, specialOption, outputOption, jsonOption,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string input = parse.GetValue(inputOption)!, output = parse.GetValue(outputOption)!;
            if (!File.Exists(input))
                throw new FileNotFoundException($"{input}: file not found", input);
            int vocabSize = parse.GetValue(vocabSizeOption);
            string[] specials = parse.GetValue(specialOption) ?? [];
            bool bpe = parse.GetValue(kindOption) == "bpe";
            var clock = Stopwatch.StartNew();
            ITokenizer tokenizer = WithProgress(progress => bpe
                ? BpeTrainer.Train(ReadChunks(input), vocabSize, specials, progress)
                : CharTokenizerTrainer.Train(ReadChunks(input), vocabSize, specials, progress));
            TokenizerJson.Save(tokenizer, output);
            double seconds = clock.Elapsed.TotalSeconds;
            if (parse.GetValue(jsonOption))
                Cli.WriteJson(new { Output = output, Kind = bpe ? "bpe" : "char", tokenizer.VocabSize, Seconds = Math.Round(seconds, 3) });
            else
                Console.Error.WriteLine($"wrote {output}: {tokenizer.VocabSize} tokens in {seconds:F2} s");
            return 0;
        }));
        return command;
    }

    /// <summary>Reads a corpus in blocks of about a million characters that end at line ends, so nothing is split mid-word.</summary>
    private static IEnumerable<string> ReadChunks(string path)
    {
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8);
        var block = new System.Text.StringBuilder();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            block.Append(line).Append('\n');
            if (block.Length >= 1 << 20)
            {
                yield return block.ToString();
                block.Clear();
            }
        }
        if (block.Length > 0)
            yield return block.ToString();
    }

    /// <summary>Runs training with a progress bar on stderr when it is a terminal, plain progress lines otherwise.</summary>
    private static T WithProgress<T>(Func<IProgress<TokenizerTrainingProgress>, T> train)
    {
        if (Console.IsErrorRedirected)
            return train(new LineProgress());
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var counting = context.AddTask("counting words");
                var merging = context.AddTask("merging pairs", autoStart: false);
                return train(new SyncProgress(p =>
                {
                    if (p.Phase == "counting")
                        counting.IsIndeterminate = true;
                    else
                    {
                        counting.Value = counting.MaxValue;
                        if (!merging.IsStarted) merging.StartTask();
                        merging.MaxValue = Math.Max(1, p.Total);
                        merging.Value = p.Done;
                    }
                }));
            });
    }

    /// <summary>Reports on the training thread itself (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class SyncProgress(Action<TokenizerTrainingProgress> report) : IProgress<TokenizerTrainingProgress>
    {
        public void Report(TokenizerTrainingProgress value) => report(value);
    }

    /// <summary>One stderr line per phase change and at most one per second within a phase.</summary>
    private sealed class LineProgress : IProgress<TokenizerTrainingProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private string _phase = "";
        private double _last = double.NegativeInfinity;

        public void Report(TokenizerTrainingProgress value)
        {
            double now = _clock.Elapsed.TotalSeconds;
            bool finished = value.Total > 0 && value.Done >= value.Total;
            if (value.Phase == _phase && now - _last < 1 && !finished)
                return;
            (_phase, _last) = (value.Phase, now);
            string amount = value.Total > 0 ? $"{value.Done}/{value.Total}" : $"{value.Done}";
            Console.Error.WriteLine($"{value.Phase} {amount} ({now:F1} s)");
        }
    }
}
