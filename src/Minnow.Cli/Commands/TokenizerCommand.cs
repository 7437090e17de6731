using System.CommandLine;
using System.Diagnostics;
using Minnow.Tokenizers;
using Minnow.Tokenizers.Training;

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
            // The bar follows the merges (counting the corpus's words comes first and shows as 0%).
            ITokenizer tokenizer = Progress.Run<ITokenizer, TokenizerTrainingProgress>("training " + (bpe ? "BPE" : "char") + " tokenizer",
                progress => bpe
                    ? BpeTrainer.Train(ReadChunks(input), vocabSize, specials, progress)
                    : CharTokenizerTrainer.Train(ReadChunks(input), vocabSize, specials, progress),
                report => report.Phase == "merging" ? (report.Done, report.Total) : (0, 1), unit: "merges");
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

    /// <summary>
    /// Reads a corpus in blocks of about a million characters that end at a line end, so no word is cut in two; the
    /// text is passed on exactly as it is (line ends included).
    /// </summary>
    private static IEnumerable<string> ReadChunks(string path)
    {
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8);
        var buffer = new char[1 << 20];
        string carry = "";
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            int cut = Array.LastIndexOf(buffer, '\n', read - 1) + 1;
            if (cut == 0)
            {
                carry += new string(buffer, 0, read);
                continue;
            }
            yield return carry + new string(buffer, 0, cut);
            carry = new string(buffer, cut, read - cut);
        }
        if (carry.Length > 0)
            yield return carry;
    }
}
