using System.Text.Json;

namespace Minnow.Tests.Cli;

/// <summary>`minnow bench` end to end: the JSON keys and the sanity of the values (never timings).</summary>
public class BenchCliTests
{
    [Fact]
    public void BenchJsonHasExactlyTheKeysAndSaneValues()
    {
        string folder = CliRunner.TempFolder();
        string model = Path.Combine(folder, "m.bin");
        var init = CliRunner.Run("init", "--dim", "48", "--hidden-dim", "96", "--layers", "2", "--heads", "4", "--kv-heads", "2",
            "--vocab", "300", "--seq-len", "64", "--output", model);
        Assert.True(init.ExitCode == 0, init.Stderr);

        var r = CliRunner.Run("bench", "--model", model, "--prompt-tokens", "9", "--gen-tokens", "5", "--runs", "2", "--threads", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = r.Json;
        string[] keys = ["prefill_tokens_per_second", "decode_tokens_per_second", "first_token_seconds", "parameters", "weight_bytes", "threads", "kv_cache", "repacked_weights"];
        Assert.Equal(keys.Order(), json.EnumerateObject().Select(p => p.Name).Order());
        foreach (var key in keys[..3])
        {
            double value = json.GetProperty(key).GetDouble();
            Assert.True(double.IsFinite(value) && value > 0, $"{key} = {value}");
        }
        // dim 48, kv dim 24, hidden 96, 2 layers, vocab 300, tied classifier.
        long layer = 48 + 48 * 48 + 2 * 24 * 48 + 48 * 48 + 48 + 3 * 96 * 48;
        Assert.Equal(300 * 48 + 2 * layer + 48, json.GetProperty("parameters").GetInt64());
        Assert.Equal(4 * (2 * layer + 48 + 300 * 48), json.GetProperty("weight_bytes").GetInt64());
        Assert.Equal(2, json.GetProperty("threads").GetInt32());
        Assert.Equal("f32", json.GetProperty("kv_cache").GetString());
        Assert.True(json.GetProperty("repacked_weights").GetBoolean());
        Assert.Contains("run 2/2", r.Stderr);
    }

    [Fact]
    public void BenchWithoutJsonPrintsATableAndUsesTheDefaultModel()
    {
        var r = CliRunner.Run("bench", "--prompt-tokens", "8", "--gen-tokens", "3", "--runs", "1", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("default model", r.Stderr);
        foreach (var line in new[] { "prefill", "decode", "first token" })
            Assert.Contains(line, r.Stdout);
    }

    [Fact]
    public void ABf16KvCacheIsReportedAndOtherTypesAreRefused()
    {
        var r = CliRunner.Run("bench", "--prompt-tokens", "8", "--gen-tokens", "3", "--runs", "1", "--threads", "1", "--kv-cache", "bf16", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("bf16", r.Json.GetProperty("kv_cache").GetString());

        var direct = CliRunner.Run("bench", "--prompt-tokens", "8", "--gen-tokens", "3", "--runs", "1", "--threads", "1", "--no-repack", "--json");
        Assert.True(direct.ExitCode == 0, direct.Stderr);
        Assert.False(direct.Json.GetProperty("repacked_weights").GetBoolean());

        var bad = CliRunner.Run("bench", "--kv-cache", "f16");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("f16", bad.Stderr);
        Assert.Equal("", bad.Stdout);
    }

    [Theory]
    [InlineData("--prompt-tokens", "0")]
    [InlineData("--gen-tokens", "100000")]
    [InlineData("--runs", "0")]
    public void BenchRejectsBadCounts(string option, string value)
    {
        var r = CliRunner.Run("bench", option, value, "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error:", r.Stderr.Split('\n').Last(l => l.Length > 0));
        Assert.Equal("", r.Stdout);
    }
}
