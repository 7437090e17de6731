using System.Text.Json;

namespace Minnow.Tests.Cli;

/// <summary>`minnow generate`, `score` and `init` end to end, and their errors.</summary>
public class FoundationCliTests
{
    private static readonly string Stories = TestData.Path("models/stories260K/stories260K.bin");

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static string SmallModel(string folder, string name = "m.bin")
    {
        string path = Path.Combine(folder, name);
        var r = CliRunner.Run("init", "--dim", "48", "--hidden-dim", "96", "--layers", "2", "--heads", "4", "--kv-heads", "2",
            "--vocab", "300", "--seq-len", "64", "--seed", "5", "--output", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return path;
    }

    [Fact]
    public void GreedyGenerationOfStories260KMatchesReference()
    {
        var reference = JsonDocument.Parse(File.ReadAllText(TestData.Path("models/stories260K/reference_outputs.json"))).RootElement;
        var c = reference.GetProperty("greedy")[0];
        int[] prompt = Ints(c.GetProperty("prompt_ids"));
        int[] expected = Ints(c.GetProperty("greedy_ids"));
        int steps = c.GetProperty("steps").GetInt32();
        var r = CliRunner.Run("generate", "--model", Stories, "--prompt-ids", string.Join(",", prompt),
            "--max-tokens", (steps - prompt.Length).ToString(), "--temperature", "0", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = r.Json;
        Assert.Equal(expected, prompt.Concat(Ints(json.GetProperty("generated_ids"))).ToArray());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("text").ValueKind);
        Assert.Equal(prompt, Ints(json.GetProperty("prompt_ids")));
        Assert.Equal(prompt.Length, json.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Length - prompt.Length, json.GetProperty("generated_tokens").GetInt32());
        foreach (var key in new[] { "load_seconds", "prefill_tokens_per_second", "decode_tokens_per_second" })
            Assert.True(json.GetProperty(key).GetDouble() >= 0, key);
    }

    [Fact]
    public void ScoreMatchesReferenceLogProbabilities()
    {
        var reference = JsonDocument.Parse(File.ReadAllText(TestData.Path("models/stories260K/reference_outputs.json"))).RootElement;
        var c = reference.GetProperty("logits")[0];
        int[] ids = Ints(c.GetProperty("input_ids"));
        int[] positions = Ints(c.GetProperty("positions"));
        var r = CliRunner.Run("score", "--model", Stories, "--ids", string.Join(",", ids), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var logprobs = r.Json.GetProperty("token_logprobs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(ids.Length - 1, logprobs.Length);
        var rows = c.GetProperty("logits").EnumerateArray().ToArray();
        int checkedCount = 0;
        for (int k = 0; k < positions.Length; k++)
        {
            int p = positions[k];
            if (p + 1 >= ids.Length) continue;
            var logits = rows[k].EnumerateArray().Select(x => x.GetDouble()).ToArray();
            double max = logits.Max();
            double expected = logits[ids[p + 1]] - max - Math.Log(logits.Sum(v => Math.Exp(v - max)));
            Assert.True(Math.Abs(logprobs[p] - expected) < 2e-4, $"position {p}: {logprobs[p]} vs {expected}");
            checkedCount++;
        }
        Assert.True(checkedCount > 0);
        Assert.Equal(logprobs.Sum(), r.Json.GetProperty("total_logprob").GetDouble(), 9);
        Assert.Equal(Math.Exp(-logprobs.Average()), r.Json.GetProperty("perplexity").GetDouble(), 6);
    }

    [Fact]
    public void InitThenGenerateIsDeterministicAndThreadIndependent()
    {
        string folder = CliRunner.TempFolder();
        string model = SmallModel(folder);
        string[] Sample(string seed, string threads) => ["generate", "--model", model, "--prompt-ids", "1,7,9", "-n", "20",
            "--temperature", "1", "--top-k", "50", "--seed", seed, "--threads", threads, "--json"];
        var a = CliRunner.Run(Sample("3", "2"));
        var b = CliRunner.Run(Sample("3", "2"));
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.Equal(Ints(a.Json.GetProperty("generated_ids")), Ints(b.Json.GetProperty("generated_ids")));
        Assert.Equal(20, Ints(a.Json.GetProperty("generated_ids")).Length);

        string[] Greedy(string threads) => ["generate", "--model", model, "--prompt-ids", "1,7,9", "-n", "30", "--temperature", "0", "--threads", threads, "--json"];
        Assert.Equal(Ints(CliRunner.Run(Greedy("1")).Json.GetProperty("generated_ids")), Ints(CliRunner.Run(Greedy("2")).Json.GetProperty("generated_ids")));

        // One beam is greedy.
        var beam = CliRunner.Run("generate", "--model", model, "--prompt-ids", "1,7,9", "-n", "30", "--beams", "1", "--temperature", "0", "--json");
        Assert.Equal(Ints(CliRunner.Run(Greedy("2")).Json.GetProperty("generated_ids")), Ints(beam.Json.GetProperty("generated_ids")));
    }

    [Fact]
    public void DefaultModelGeneratesTextWithANoteOnStderr()
    {
        var r = CliRunner.Run("generate", "--prompt", "ROMEO:", "-n", "8", "--seed", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("demonstration model trained on Tiny Shakespeare", r.Stderr);
        Assert.Equal(JsonValueKind.String, r.Json.GetProperty("text").ValueKind);
        Assert.Equal(8, r.Json.GetProperty("generated_tokens").GetInt32());
        // The shipped byte-level BPE tokenizer, no BOS.
        var tokenizer = Minnow.Tokenizers.TokenizerLoader.Load(Path.Combine(Minnow.Models.DefaultModel.Path, "tokenizer.json"));
        Assert.Equal(tokenizer.Encode("ROMEO:"), Ints(r.Json.GetProperty("prompt_ids")));
    }

    [Theory]
    [InlineData("--prompt-ids", "1,x,3", "'x' is not a token id")]
    [InlineData("--prompt-ids", "1,99999", "outside the model's vocabulary")]
    [InlineData("--prompt-ids", "", "is not a token id")]
    public void MalformedPromptIdsAreOneClearError(string option, string value, string message)
    {
        var r = CliRunner.Run("generate", "--model", Stories, option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void PromptLongerThanTheContextIsAnError()
    {
        var ids = string.Join(",", Enumerable.Repeat(5, 600));
        var r = CliRunner.Run("generate", "--model", Stories, "--prompt-ids", ids);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("context holds 512", r.Stderr);
    }

    [Fact]
    public void BadModelFilesAreOneClearError()
    {
        string folder = CliRunner.TempFolder();
        string truncated = Path.Combine(folder, "truncated.bin");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Stories)[..5000]);
        var r = CliRunner.Run("generate", "--model", truncated, "--prompt-ids", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("truncated", r.Stderr);
        Assert.Contains(truncated, r.Stderr);

        var missing = CliRunner.Run("score", "--model", Path.Combine(folder, "nope.bin"), "--ids", "1,2");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr);

        var zeroDim = CliRunner.Run("init", "--dim", "0", "--hidden-dim", "8", "--layers", "1", "--heads", "1", "--vocab", "8", "--seq-len", "8", "--output", Path.Combine(folder, "z.bin"));
        Assert.Equal(1, zeroDim.ExitCode);
        Assert.Contains("dim must be positive", zeroDim.Stderr);
    }

    [Fact]
    public void TokenizerThatDoesNotMatchTheModelIsAnError()
    {
        var r = CliRunner.Run("generate", "--model", Stories, "--tokenizer", TestData.Path("tokenizers/llama2/tokenizer.bin"), "--prompt", "Hi");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("32000 tokens but the model's vocabulary holds 512", r.Stderr);
    }

    [Fact]
    public void UnknownOptionsPointToHelp()
    {
        var r = CliRunner.Run("generate", "--bogus");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--bogus", r.Stderr);
        Assert.Contains("minnow generate --help", r.Stderr);
        var help = CliRunner.Run("generate", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--max-tokens", help.Stdout);
    }
}
