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

    /// <summary>
    /// tiny-hf/llama → GGUF with each quantized type through the CLI: the file scores within a type-sized tolerance of
    /// the F32 source, and our Q8_0 file holds exactly the bytes of the shared (gguf-py) Q8_0 file. The tiny model's
    /// rows are 64 wide, so the K-quant types take llama.cpp's 32-block fallbacks here (the next test has real K-quants).
    /// </summary>
    [Theory]
    [InlineData("q8_0", 1e-2)]
    [InlineData("q4_0", 8e-2)]
    [InlineData("q4_1", 8e-2)]
    [InlineData("q5_0", 5e-2)]
    [InlineData("q5_1", 5e-2)]
    [InlineData("q4_k", 8e-2)]
    [InlineData("q6_k", 1e-2)]
    [InlineData("q4_k_m", 8e-2)]
    public void QuantizedConversionsScoreCloseToTheSource(string type, double tolerance)
    {
        string source = HfFamilyTests.Folder("llama");
        string gguf = Path.Combine(CliRunner.TempFolder(), $"llama-{type}.gguf");
        var r = CliRunner.Run("convert", "--input", source, "--output", gguf, "--type", type, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        const string ids = "1,261,301,278,255,273,256,235,299,262";
        var reference = Logprobs(source, ids);
        var got = Logprobs(gguf, ids);
        for (int i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(reference[i] - got[i]) < tolerance, $"{type} position {i}: {got[i]} vs {reference[i]}");
        if (type == "q8_0")
        {
            using var ours = GgufFile.Open(gguf);
            using var shared = GgufFile.Open(GgufTests.File("Q8_0"));
            foreach (var name in new[] { "token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.1.ffn_down.weight", "output.weight" })
                Assert.Equal(shared.Tensor(name).AsBytes().ToArray(), ours.Tensor(name).AsBytes().ToArray());
        }
    }

    /// <summary>A model 256 wide holds real K-quant blocks: q4_k_m mixes Q4_K and Q6_K, and info lists both.</summary>
    [Fact]
    public void Q4KMMixesKQuantsOnWideRows()
    {
        string folder = CliRunner.TempFolder();
        string source = Path.Combine(folder, "wide");
        Assert.Equal(0, CliRunner.Run("init", "--dim", "256", "--hidden-dim", "512", "--layers", "2", "--heads", "4", "--vocab", "512",
            "--seq-len", "64", "--untied", "--output", source).ExitCode);
        string gguf = Path.Combine(folder, "wide-q4_k_m.gguf");
        var r = CliRunner.Run("convert", "--input", source, "--output", gguf, "--type", "q4_k_m");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var file = GgufFile.Open(gguf))
        {
            Assert.Equal(Minnow.Tensors.DType.Q6_K, file.Tensor("output.weight").DType);
            Assert.Equal(Minnow.Tensors.DType.Q6_K, file.Tensor("blk.1.ffn_down.weight").DType); // use_more_bits: the last eighth of 2 layers
            Assert.Equal(Minnow.Tensors.DType.Q4_K, file.Tensor("blk.0.attn_q.weight").DType);
        }
        var info = CliRunner.Run("info", gguf);
        Assert.Contains("Q4_K", info.Stdout);
        Assert.Contains("Q6_K", info.Stdout);
        const string ids = "1,20,300,45,7,511,2,99";
        var reference = Logprobs(source, ids);
        var got = Logprobs(gguf, ids);
        for (int i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(reference[i] - got[i]) < 6e-2, $"position {i}: {got[i]} vs {reference[i]}"); // measured 3.1e-2 (Q4_0 on this model: 0.17)
    }
}
