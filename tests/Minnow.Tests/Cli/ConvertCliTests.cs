using System.Text.Json;
using Minnow.Formats.Gguf;
using Minnow.Tests.Formats;

namespace Minnow.Tests.Cli;

/// <summary>`minnow convert` between llama2.c, HF folders and GGUF.</summary>
public class ConvertCliTests
{
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static double[] Logprobs(string model, string ids)
    {
        var r = CliRunner.Run("score", "--model", model, "--ids", ids, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Json.GetProperty("token_logprobs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
    }

    /// <summary>
    /// stories260K (llama2.c) and tiny-hf/llama (a HF folder) → GGUF → HF folder. stories260K's weights are unusually
    /// sensitive to rounding (a 16-bit copy moves some log-probabilities by 0.2), so the 16-bit types use the tiny Llama.
    /// </summary>
    [Theory]
    [InlineData("stories", "f32", 1e-5)]
    [InlineData("llama", "f32", 1e-5)]
    [InlineData("llama", "f16", 2e-3)]
    [InlineData("llama", "bf16", 2e-2)]
    public void ConversionsScoreTheSame(string model, string type, double tolerance)
    {
        string folder = CliRunner.TempFolder();
        string source = model == "stories" ? TestData.Path("models/stories260K/stories260K.bin") : HfFamilyTests.Folder(model);
        string gguf = Path.Combine(folder, "model.gguf");
        var r = CliRunner.Run("convert", "--input", source, "--output", gguf, "--type", type, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("gguf", r.Json.GetProperty("format").GetString());
        string hf = Path.Combine(folder, "hf");
        Assert.Equal(0, CliRunner.Run("convert", "--input", gguf, "--output", hf, "--type", type).ExitCode);

        const string ids = "1,261,301,278,255,273,256,235,299,262";
        var reference = Logprobs(source, ids);
        foreach (var converted in new[] { gguf, hf })
        {
            var got = Logprobs(converted, ids);
            for (int i = 0; i < reference.Length; i++)
                Assert.True(Math.Abs(reference[i] - got[i]) < tolerance, $"{converted} position {i}: {got[i]} vs {reference[i]}");
        }
    }

    [Fact]
    public void Llama2cModelConvertsWithItsTokenizer()
    {
        string gguf = Path.Combine(CliRunner.TempFolder(), "bytes.gguf");
        var r = CliRunner.Run("convert", "--input", Minnow.Tests.Chat.ChatTestModel.FilePath, "--output", gguf, "--type", "f32");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var f = GgufFile.Open(gguf);
        Assert.Equal("llama", f.GetString("tokenizer.ggml.model"));
        var tokens = f.GetArray<string>("tokenizer.ggml.tokens")!;
        Assert.Equal(259, tokens.Length);
        Assert.Equal("<s>", tokens[1]);
        Assert.Equal("▁", tokens[3 + ' ']);
        Assert.Equal(2, f.GetInt("tokenizer.ggml.eos_token_id"));
    }

    /// <summary>The default model's trained byte-level BPE (GPT-2's split regex) goes into GGUF as llama.cpp's "gpt2" model with pre-tokenizer "gpt-2", and encodes as before.</summary>
    [Fact]
    public void DefaultModelConvertsWithItsBpeTokenizer()
    {
        string gguf = Path.Combine(CliRunner.TempFolder(), "default.gguf");
        var r = CliRunner.Run("convert", "--input", Minnow.Models.DefaultModel.Path, "--output", gguf, "--type", "f16");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var f = GgufFile.Open(gguf))
        {
            Assert.Equal("gpt2", f.GetString("tokenizer.ggml.model"));
            Assert.Equal("gpt-2", f.GetString("tokenizer.ggml.pre"));
        }
        const string text = "ROMEO:\nWhat light through yonder window breaks? Ünïcödé ✓ 12345\n";
        var hf = Minnow.Tokenizers.TokenizerLoader.Load(Path.Combine(Minnow.Models.DefaultModel.Path, "tokenizer.json"));
        using var loaded = Minnow.Models.ModelLoader.Load(gguf, new Minnow.Models.ModelLoadOptions { Threads = 1 });
        Assert.Equal(hf.Encode(text), loaded.Tokenizer!.Encode(text));
        Assert.Equal(text, loaded.Tokenizer!.Decode(hf.Encode(text)));
    }

    [Fact]
    public void QuantizedTypesCannotGoToAHfFolder()
    {
        var r = CliRunner.Run("convert", "--input", HfFamilyTests.Folder("llama"), "--output", Path.Combine(CliRunner.TempFolder(), "x"), "--type", "q8_0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("use a .gguf output", r.Stderr);
        var bad = CliRunner.Run("convert", "--input", HfFamilyTests.Folder("llama"), "--output", "x.gguf", "--type", "q9");
        Assert.Equal(2, bad.ExitCode);
    }
}
