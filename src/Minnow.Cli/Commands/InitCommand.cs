using System.CommandLine;
using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow init</c>: write a random-initialised model, for tests and benchmarks of realistic size without downloads.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        Option<int> Required(string name, string description) => new(name) { Description = description, Required = true, HelpName = "N" };
        var arch = new Option<string>("--arch") { Description = "Architecture (llama).", DefaultValueFactory = _ => "llama" };
        arch.AcceptOnlyFromAmong("llama");
        var dim = Required("--dim", "Model width (embedding size).");
        var hidden = Required("--hidden-dim", "Width of the SwiGLU feed-forward layer.");
        var layers = Required("--layers", "Number of transformer layers.");
        var heads = Required("--heads", "Attention (query) heads; dim must be divisible by it.");
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads for grouped-query attention (default: --heads).", HelpName = "N" };
        var vocab = Required("--vocab", "Vocabulary size.");
        var seqLen = Required("--seq-len", "Context length (positions).");
        var untied = new Option<bool>("--untied") { Description = "Store a separate classifier instead of reusing the embedding matrix." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the N(0, 0.02) initialisation.", DefaultValueFactory = _ => 1, HelpName = "S" };
        var output = new Option<string>("--output", "-o") { Description = "Model file to write (llama2.c format).", Required = true, HelpName = "FILE" };
        var json = Cli.JsonOption();
        var command = new Command("init", "Write a random-initialised model (weights ~ N(0, 0.02), norms 1) in llama2.c format.")
        {
            arch, dim, hidden, layers, heads, kvHeads, vocab, seqLen, untied, seed, output, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var config = new ModelConfig
            {
                Architecture = parse.GetValue(arch)!,
                Dim = parse.GetValue(dim),
                HiddenDim = parse.GetValue(hidden),
                Layers = parse.GetValue(layers),
                Heads = parse.GetValue(heads),
                KvHeads = parse.GetValue(kvHeads) ?? parse.GetValue(heads),
                VocabSize = parse.GetValue(vocab),
                ContextLength = parse.GetValue(seqLen),
                TiedEmbeddings = !parse.GetValue(untied),
            };
            string path = parse.GetValue(output)!;
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null && !Directory.Exists(folder))
                throw new InvalidInputException($"--output: folder {folder} does not exist");
            var rng = new Rng(parse.GetValue(seed));
            Llama2cCheckpoint.Write(path, config, (name, values) => RandomWeights.Fill(name, values, rng));
            long bytes = new FileInfo(path).Length;
            if (parse.GetValue(json))
                Cli.WriteJson(new { Output = path, Bytes = bytes, config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads, config.VocabSize, SeqLen = config.ContextLength });
            else
                Console.Error.WriteLine($"wrote {path} ({bytes / 1e6:F1} MB)");
            return 0;
        }));
        return command;
    }
}
