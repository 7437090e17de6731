namespace Minnow.Tests.Cli;

public class EvalCliTests
{
    [Fact]
    public void PerplexityOfAFileWithTheDefaultModel()
    {
        string file = Path.Combine(CliRunner.TempFolder(), "text.txt");
        File.WriteAllText(file, string.Concat(Enumerable.Repeat("All the world's a stage, and all the men and women merely players. ", 20)));
        var r = CliRunner.Run("eval", "perplexity", "--data", file, "--context", "128", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var j = r.Json;
        long bytes = new FileInfo(file).Length;
        Assert.Equal(bytes, j.GetProperty("bytes").GetInt64());
        // The default model's byte tokenizer: BOS, the dummy-prefix space, then one token per byte (BOS is not scored).
        Assert.Equal(bytes + 1, j.GetProperty("tokens").GetInt64());
        double loss = j.GetProperty("mean_loss").GetDouble();
        Assert.Equal(Math.Exp(loss), j.GetProperty("perplexity").GetDouble(), 6);
        Assert.Equal(loss * (bytes + 1) / (bytes * Math.Log(2)), j.GetProperty("bits_per_byte").GetDouble(), 6);
        // An untrained model over 259 tokens is close to uniform: about ln 259 nats per token.
        Assert.InRange(loss, 4.5, 7);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var r = CliRunner.Run("eval", "perplexity", "--data", "/no/such/file.txt");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not found", r.Stderr);
    }
}
