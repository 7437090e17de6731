using System.CommandLine;
using Minnow.Models;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow info</c>: what a model file or folder holds.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = new Argument<string?>("MODEL") { Description = "Model file or folder (default: Minnow's default model).", Arity = ArgumentArity.ZeroOrOne };
        // -m/--model as in every other command, so `minnow info -m FILE` works too.
        var modelOption = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var json = Cli.JsonOption();
        var command = new Command("info", "Describe a model: architecture, size, context length, tensor types, tokenizer and chat template.")
        {
            model, modelOption, tokenizer, json,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string? positional = parse.GetValue(model), named = parse.GetValue(modelOption);
            if (positional is not null && named is not null && positional != named)
                throw new InvalidInputException($"two models given: '{positional}' and --model '{named}'; pass one");
            using var loaded = Cli.LoadModel(positional ?? named, parse.GetValue(tokenizer), 1);
            var c = loaded.Model.Config;
            var info = new
            {
                Source = loaded.Source,
                Format = loaded.Format,
                Architecture = c.Architecture,
                Parameters = loaded.Model.ParameterCount,
                WeightBytes = loaded.Model.WeightBytesPerToken,
                ContextLength = c.ContextLength,
                c.VocabSize,
                c.Dim,
                c.HiddenDim,
                c.Layers,
                c.Heads,
                c.KvHeads,
                HeadDim = c.HeadSize,
                TiedEmbeddings = c.TiedEmbeddings,
                TensorTypes = loaded.TensorTypes,
                Tokenizer = loaded.Tokenizer is null ? null : TokenizerKind(loaded.Tokenizer),
                TokenizerVocabSize = loaded.Tokenizer?.VocabSize,
                ChatTemplate = loaded.ChatTemplate is not null,
                StopTokens = loaded.StopTokens.Order().ToArray(),
            };
            if (parse.GetValue(json))
            {
                Cli.WriteJson(info);
                return 0;
            }
            Console.Out.WriteLine($"{info.Source} ({info.Format})");
            Console.Out.WriteLine($"  architecture   {info.Architecture}");
            Console.Out.WriteLine($"  parameters     {info.Parameters:N0} ({info.Parameters / 1e6:F1}M)");
            Console.Out.WriteLine($"  shape          dim {c.Dim}, hidden {c.HiddenDim}, {c.Layers} layers, {c.Heads} heads ({c.KvHeads} kv, head dim {c.HeadSize}), vocab {c.VocabSize}{(c.TiedEmbeddings ? ", tied classifier" : "")}");
            Console.Out.WriteLine($"  context        {c.ContextLength:N0} positions");
            Console.Out.WriteLine($"  tensor types   {string.Join(", ", info.TensorTypes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} ×{kv.Value}"))}");
            Console.Out.WriteLine($"  weights/token  {info.WeightBytes / 1e6:F1} MB read per decoded token");
            Console.Out.WriteLine($"  tokenizer      {info.Tokenizer ?? "none (ids in, ids out)"}{(info.TokenizerVocabSize is int v ? $", {v:N0} tokens" : "")}");
            Console.Out.WriteLine($"  chat template  {(info.ChatTemplate ? "yes" : "no")}");
            Console.Out.WriteLine($"  stop tokens    {string.Join(", ", info.StopTokens)}");
            return 0;
        }));
        return command;
    }

    /// <summary>A short name for the tokenizer's kind, from its type ("Llama2cTokenizer" → "llama2c").</summary>
    private static string TokenizerKind(Tokenizers.ITokenizer tokenizer)
    {
        string name = tokenizer.GetType().Name;
        return (name.EndsWith("Tokenizer", StringComparison.Ordinal) ? name[..^"Tokenizer".Length] : name).ToLowerInvariant();
    }
}
