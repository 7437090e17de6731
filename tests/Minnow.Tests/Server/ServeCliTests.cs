using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Minnow.Tests.Chat;
using Minnow.Tests.Cli;

namespace Minnow.Tests.Server;

/// <summary>`minnow serve` as a user starts it: a separate process on a free port.</summary>
public class ServeCliTests
{
    [Fact]
    public async Task ServeAnnouncesItsAddressAndAnswers()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Minnow.Cli.dll"), "serve", "--model", ChatTestModel.FilePath, "--port", "0", "--threads", "1", "--api-key", "k", "--json" })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2));
            if (line is null)
                Assert.Fail("minnow serve ended without announcing its address: " + await stderr);
            var ready = JsonDocument.Parse(line).RootElement;
            Assert.Equal("chat-test", ready.GetProperty("model_id").GetString());
            Assert.Equal(512, ready.GetProperty("context_length").GetInt32());
            using var http = new HttpClient { BaseAddress = new Uri(ready.GetProperty("url").GetString()!) };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("v1/models")).StatusCode);
            http.DefaultRequestHeaders.Authorization = new("Bearer", "k");
            // Greedy: sampled at the default temperature, the random test model ends its reply early now and then (its end
            // token drawn within 4 tokens), which failed this test once in 15 full runs.
            var reply = await http.PostAsJsonAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 4, temperature = 0 });
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            var usage = (await reply.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
            Assert.Equal(4, usage.GetProperty("completion_tokens").GetInt32());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        string log = await stderr;
        Assert.Contains("POST /v1/chat/completions 200", log);
        Assert.Contains("GET /v1/models 401", log);
    }

    [Theory]
    [InlineData("--port", "70000", "error: port must be between 0 and 65535, got 70000")]
    [InlineData("--max-concurrent", "0", "error: max concurrent requests must be at least 1, got 0")]
    [InlineData("--host", "example.com", "error: host must be an IP address or 'localhost', got 'example.com'")]
    public void BadOptionsAreOneLineErrors(string option, string value, string message)
    {
        var r = CliRunner.Run("serve", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(message, r.Stderr.Trim());
    }

    [Fact]
    public void AMissingModelIsOneLineError()
    {
        var r = CliRunner.Run("serve", "--model", "/nonexistent/model.bin", "--port", "0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: /nonexistent/model.bin: model file not found", r.Stderr);
        var tooLong = CliRunner.Run("serve", "--model", ChatTestModel.FilePath, "--port", "0", "--context", "100000");
        Assert.Equal(1, tooLong.ExitCode);
        Assert.Contains("error: context length must be between 1 and the model's 512, got 100000", tooLong.Stderr);
    }
}
