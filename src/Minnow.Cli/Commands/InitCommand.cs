using System.CommandLine;
using Minnow.Formats.HuggingFace;
using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow init</c>: write a random-initialised model, for tests and benchmarks of realistic size without downloads.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        Option<int> Required(string name, string description) => new(name) { Description = description, Required = true, HelpName = "N" };
        var arch = new Option<string>("--arch") { Description = "Architecture: llama (Llama/SmolLM-style) or gpt2.", DefaultValueFactory = _ => "llama" };
        arch.AcceptOnlyFromAmong("llama", "gpt2");
        var dim = Required("--dim", "Model width (embedding size).");
        var hidden = Required("--hidden-dim", "Width of the feed-forward layer.");
        var layers = Required("--layers", "Number of transformer layers.");
        var heads = Required("--heads", "Attention (query) heads; dim must be divisible by it.");
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads for grouped-query attention (default: --heads; llama only).", HelpName = "N" };
        var vocab = Required("--vocab", "Vocabulary size.");
        var seqLen = Required("--seq-len", "Context length (positions).");
        var untied = new Option<bool>("--untied") { Description = "Store a separate classifier instead of reusing the embedding matrix (llama only)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the N(0, 0.02) initialisation.", DefaultValueFactory = _ => 1, HelpName = "S" };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write: a FILE.bin is a llama2.c checkpoint (llama only); anything else is a HF model folder (config.json + model.safetensors).",
            Required = true, HelpName = "PATH",
        };
        var dtype = new Option<string>("--dtype") { Description = "Weight type of a HF folder: f32, f16 or bf16.", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "f16", "bf16");
        var json = Cli.JsonOption();
        var command = new Command("init", "Write a random-initialised model (weights ~ N(0, 0.02), norms 1, biases 0) as a llama2.c checkpoint or a HF folder.")
        {
            arch, dim, hidden, layers, heads, kvHeads, vocab, seqLen, untied, seed, output, dtype, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string architecture = parse.GetValue(arch)!;
            bool gpt2 = architecture == "gpt2";
            if (gpt2 && (parse.GetValue(untied) || parse.GetValue(kvHeads) is not null))
                throw new InvalidInputException("GPT-2 always ties its classifier and has no separate key/value heads");
            var config = new ModelConfig
            {
                Architecture = architecture,
                Dim = parse.GetValue(dim),
                HiddenDim = parse.GetValue(hidden),
                Layers = parse.GetValue(layers),
                Heads = parse.GetValue(heads),
                KvHeads = parse.GetValue(kvHeads) ?? parse.GetValue(heads),
                VocabSize = parse.GetValue(vocab),
                ContextLength = parse.GetValue(seqLen),
                TiedEmbeddings = !parse.GetValue(untied),
                Activation = gpt2 ? Activation.GeluTanh : Activation.Silu,
            };
            config.Validate(null);
            string path = parse.GetValue(output)!;
            string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
            if (parent is not null && !Directory.Exists(parent))
                throw new InvalidInputException($"--output: folder {parent} does not exist");
            ulong seedValue = parse.GetValue(seed);
            bool llama2c = path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase);
            if (llama2c)
            {
                if (gpt2)
                    throw new InvalidInputException("llama2.c checkpoints hold Llama models only; give a folder for --arch gpt2");
                if (parse.GetValue(dtype) != "f32")
                    throw new InvalidInputException("llama2.c checkpoints are always f32");
                var rng = new Rng(seedValue);
                Llama2cCheckpoint.Write(path, config, (name, values) => RandomWeights.Fill(name, values, rng));
            }
            else
            {
                var type = parse.GetValue(dtype) switch { "f16" => DType.F16, "bf16" => DType.BF16, _ => DType.F32 };
                if (gpt2)
                    HfModelWriter.Write(path, config, RandomWeights.Gpt2(config, seedValue), type);
                else
                    HfModelWriter.Write(path, config, RandomWeights.Llama(config, seedValue), type);
            }
            long bytes = llama2c ? new FileInfo(path).Length : Directory.GetFiles(path).Sum(f => new FileInfo(f).Length);
            if (parse.GetValue(json))
                Cli.WriteJson(new
                {
                    Output = path, Format = llama2c ? "llama2c" : "huggingface", Bytes = bytes, Arch = architecture,
                    config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads, config.VocabSize, SeqLen = config.ContextLength,
                });
            else
                Console.Error.WriteLine($"wrote {path} ({bytes / 1e6:F1} MB)");
            return 0;
        }));
        return command;
    }
}
