using System.CommandLine;
using Minnow.Compression.Quantization;
using Minnow.Formats.Gguf;
using Minnow.Formats.HuggingFace;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow convert</c>: any model Minnow loads → GGUF (any supported type) or a HF folder.</summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--input", "-i") { Description = "Model to convert: llama2.c .bin, GGUF file or HF folder.", Required = true, HelpName = "MODEL" };
        var tokenizer = Cli.TokenizerOption();
        var output = new Option<string>("--output", "-o") { Description = "FILE.gguf writes GGUF; anything else is a HF folder (config.json + model.safetensors).", Required = true, HelpName = "PATH" };
        var type = new Option<string>("--type")
        {
            Description = "Stored type of the 2-D weights (norms stay f32): f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k or q4_k_m (Q4_K with Q6_K " +
                "for the classifier and some attn_v/ffn_down, as llama.cpp). K-quant rows whose length is not a multiple of 256 fall back to a 32-block type. " +
                "HF folders hold f32, f16 or bf16.",
            DefaultValueFactory = _ => "f16",
        };
        type.AcceptOnlyFromAmong(QuantizationMix.Names.ToArray());
        var json = Cli.JsonOption();
        var command = new Command("convert", "Convert a model to GGUF (optionally quantized) or to a HF folder.") { input, tokenizer, output, type, json };
        command.SetAction(parse => Cli.Run(() =>
        {
            string target = parse.GetValue(output)!;
            var plan = QuantizationMix.Parse(parse.GetValue(type)!);
            bool gguf = target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
            string? parent = Path.GetDirectoryName(Path.GetFullPath(target));
            if (parent is not null && !Directory.Exists(parent))
                throw new InvalidInputException($"--output: folder {parent} does not exist");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var loaded = Cli.LoadModel(parse.GetValue(input), parse.GetValue(tokenizer), Environment.ProcessorCount);
            if (gguf)
                WriteGguf(target, loaded, plan);
            else
                WriteHf(target, loaded, plan);
            long bytes = gguf ? new FileInfo(target).Length : Directory.GetFiles(target).Sum(f => new FileInfo(f).Length);
            if (parse.GetValue(json))
                Cli.WriteJson(new { Output = target, Format = gguf ? "gguf" : "huggingface", Type = plan.Name, Bytes = bytes, Seconds = clock.Elapsed.TotalSeconds });
            else
                Console.Error.WriteLine($"wrote {target} ({bytes / 1e6:F1} MB, {plan.Name}) in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return command;
    }

    private static void WriteHf(string folder, LoadedModel loaded, QuantizationMix plan)
    {
        var dtype = plan.Name switch
        {
            "f32" => DType.F32,
            "f16" => DType.F16,
            "bf16" => DType.BF16,
            _ => throw new InvalidInputException($"a HF folder holds f32, f16 or bf16 weights; use a .gguf output for {plan.Name}"),
        };
        HfModelWriter.Write(folder, loaded.Model, dtype);
        HfModelWriter.WriteTokenizerFiles(folder, loaded);
    }

    private static void WriteGguf(string path, LoadedModel loaded, QuantizationMix plan)
    {
        var c = loaded.Model.Config;
        int tensors = 0, total = c.Layers * 9 + 3;
        Progress.Run("converting", (IProgress<int> progress) =>
        {
            GgufModelWriter.Write(path, loaded.Model, plan, GgufTokenizerMetadata.From(loaded),
                Path.GetFileNameWithoutExtension(loaded.Source.TrimEnd('/', '\\')), _ => progress.Report(++tensors));
            return 0;
        }, done => (Math.Min(done, total), total), unit: "tensors");
    }
}
