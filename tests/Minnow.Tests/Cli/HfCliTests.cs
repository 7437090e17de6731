using System.Text.Json;
using Minnow.Tests.Formats;

namespace Minnow.Tests.Cli;

/// <summary>HF model folders through `minnow score`, `generate`, `info` and `init`.</summary>
public class HfCliTests
{
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Theory]
    [InlineData("qwen3")]
    [InlineData("gemma2")]
    [InlineData("gpt2")]
    public void ScoreAndGenerateMatchReference(string family)
    {
        var expected = HfFamilyTests.Load(family);
        int[] ids = expected.InputIds[0];
        var score = CliRunner.Run("score", "--model", HfFamilyTests.Folder(family), "--ids", string.Join(",", ids), "--json");
        Assert.True(score.ExitCode == 0, score.Stderr);
        var logprobs = score.Json.GetProperty("token_logprobs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        for (int i = 0; i + 1 < ids.Length; i++)
        {
            var row = expected.Logits[0][i];
            double max = row.Max();
            double reference = row[ids[i + 1]] - max - Math.Log(row.Sum(v => Math.Exp(v - max)));
            Assert.True(Math.Abs(logprobs[i] - reference) < 2e-4, $"{family} position {i}");
        }

        var generate = CliRunner.Run("generate", "--model", HfFamilyTests.Folder(family), "--prompt-ids", string.Join(",", ids),
            "-n", "16", "--temperature", "0", "--json");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        // The tiny models' EOS id (2) may appear in the reference continuation; the CLI stops there, as it should.
        int[] got = Ints(generate.Json.GetProperty("generated_ids"));
        int[] want = expected.Greedy[0];
        int stop = Array.IndexOf(want, 2);
        Assert.Equal(stop >= 0 ? want[..(stop + 1)] : want, got);
    }

    [Fact]
    public void InfoReportsTypesAndShape()
    {
        var r = CliRunner.Run("info", HfFamilyTests.Folder("llama-f16"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var j = r.Json;
        Assert.Equal("llama", j.GetProperty("architecture").GetString());
        Assert.Equal(21, j.GetProperty("tensor_types").GetProperty("F16").GetInt32());
        Assert.Equal(128, j.GetProperty("context_length").GetInt32());
        Assert.False(j.GetProperty("chat_template").GetBoolean());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("tokenizer").ValueKind);
        var text = CliRunner.Run("info", HfFamilyTests.Folder("llama-f16"));
        Assert.Contains("F16 ×21", text.Stdout);
    }

    /// <summary>`info -m MODEL` works as in every other command; a positional model and a different -m are an error.</summary>
    [Fact]
    public void InfoTakesTheModelAsAnOptionToo()
    {
        string folder = HfFamilyTests.Folder("llama-f16");
        var r = CliRunner.Run("info", "-m", folder, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(21, r.Json.GetProperty("tensor_types").GetProperty("F16").GetInt32());
        var both = CliRunner.Run("info", folder, "--model", HfFamilyTests.Folder("qwen2"));
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("two models given", both.Stderr);
    }

    [Fact]
    public void InitWritesAHfFolderThatRuns()
    {
        string folder = Path.Combine(CliRunner.TempFolder(), "smol");
        var init = CliRunner.Run("init", "--dim", "64", "--hidden-dim", "96", "--layers", "2", "--heads", "4", "--kv-heads", "2",
            "--vocab", "200", "--seq-len", "64", "--output", folder, "--dtype", "bf16", "--json");
        Assert.True(init.ExitCode == 0, init.Stderr);
        Assert.Equal("huggingface", init.Json.GetProperty("format").GetString());
        var info = CliRunner.Run("info", folder, "--json");
        Assert.Equal(20, info.Json.GetProperty("tensor_types").GetProperty("BF16").GetInt32());
        var generate = CliRunner.Run("generate", "--model", folder, "--prompt-ids", "1,2,3", "-n", "5", "--temperature", "0", "--json");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        Assert.Equal(5, generate.Json.GetProperty("generated_tokens").GetInt32());

        string gpt2 = Path.Combine(CliRunner.TempFolder(), "gpt2");
        var initGpt2 = CliRunner.Run("init", "--arch", "gpt2", "--dim", "32", "--hidden-dim", "128", "--layers", "2", "--heads", "2",
            "--vocab", "100", "--seq-len", "32", "--output", gpt2);
        Assert.True(initGpt2.ExitCode == 0, initGpt2.Stderr);
        Assert.Equal("gpt2", CliRunner.Run("info", gpt2, "--json").Json.GetProperty("architecture").GetString());
    }

    [Fact]
    public void MissingConfigIsAClearError()
    {
        string folder = CliRunner.TempFolder();
        File.Copy(Path.Combine(HfFamilyTests.Folder("llama"), "model.safetensors"), Path.Combine(folder, "model.safetensors"));
        var r = CliRunner.Run("score", "--model", folder, "--ids", "1,2,3");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("config.json is missing", r.Stderr);
    }

    [Fact]
    public void ChatTemplateComesFromTheModelFolder()
    {
        string folder = CliRunner.TempFolder();
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(HfFamilyTests.Folder("llama"), f), Path.Combine(folder, f));
        string template = File.ReadAllText(TestData.Path("chat_templates/llama-2-chat.jinja"));
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            JsonSerializer.Serialize(new { bos_token = "<s>", eos_token = new { content = "</s>" }, chat_template = template }));
        string messages = Path.Combine(folder, "messages.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}]""");
        var r = CliRunner.Run("chat-template", "--model", folder, "--messages", messages, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("<s>[INST] Hello [/INST] Hi! </s>", r.Json.GetProperty("rendered").GetString());
        Assert.True(CliRunner.Run("info", folder, "--json").Json.GetProperty("chat_template").GetBoolean());

        var none = CliRunner.Run("chat-template", "--model", HfFamilyTests.Folder("llama"), "--messages", messages);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("carries no chat template", none.Stderr);
    }
}
