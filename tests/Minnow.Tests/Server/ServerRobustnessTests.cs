using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Minnow.Server;
using Minnow.Tests.Chat;
using OpenAI.Chat;

namespace Minnow.Tests.Server;

/// <summary>What the server does with bad, hostile or excessive requests: OpenAI-shaped errors, never a crash.</summary>
public class ServerRobustnessTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static void AssertError(int status, JsonElement body, int expectedStatus, string type, string? param = null, string? code = null)
    {
        Assert.Equal(expectedStatus, status);
        var error = body.GetProperty("error");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.True(error.TryGetProperty("param", out var p));
        Assert.Equal(param, p.ValueKind == JsonValueKind.Null ? null : p.GetString());
        Assert.Equal(code, error.GetProperty("code").ValueKind == JsonValueKind.Null ? null : error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("{\"messages\": [", null)]
    [InlineData("not json at all", null)]
    [InlineData("[1, 2, 3]", null)]
    [InlineData("{}", "messages")]
    [InlineData("{\"messages\": []}", "messages")]
    [InlineData("{\"messages\": \"hi\"}", "messages")]
    [InlineData("{\"messages\": [{\"content\": \"hi\"}]}", "messages[0].role")]
    [InlineData("{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "messages[0].role")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": 42}]}", "messages[0].content")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}", "messages[0].content[0]")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": -1}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": 2.5}", "max_completion_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 1e30}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": \"hot\"}", "temperature")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": -0.5}", "temperature")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": 0}", "top_p")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": 7}", "stop")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}", "n")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"response_format\": {\"type\": \"json_object\"}}", "response_format")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tool_choice\": \"required\"}", "tool_choice")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": \"yes\"}", "stream")]
    public async Task BadChatRequestsAre400WithTheFieldNamed(string body, string? param)
    {
        var (status, reply) = await fixture.PostAsync("v1/chat/completions", body);
        AssertError(status, reply, 400, "invalid_request_error", param);
    }

    [Fact]
    public async Task MaxTokensOfABillionIsCappedByTheContext()
    {
        var (status, reply) = await fixture.PostAsync("v1/chat/completions",
            new { messages = new[] { new { role = "user", content = "Go on and on." } }, max_tokens = 1_000_000_000, temperature = 1, seed = 4, stop = "\u0001\u0002never" });
        Assert.Equal(200, status);
        var usage = reply.GetProperty("usage");
        Assert.True(usage.GetProperty("total_tokens").GetInt32() <= 512);
        string finish = reply.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!;
        Assert.True(finish == "stop" || usage.GetProperty("total_tokens").GetInt32() == 512, $"{finish}, {usage}");
    }

    [Fact]
    public async Task UnknownFieldsAreIgnoredAndStopMayBeAStringOrAnArray()
    {
        var (status, reply) = await fixture.PostAsync("v1/chat/completions", """
            {"model": "chat-test", "messages": [{"role": "developer", "content": "be nice", "name": "x", "weird": [1]},
             {"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]}],
             "max_tokens": 30, "temperature": 0, "user": "u1", "logit_bias": null, "metadata": {"a": "b"}, "frobnicate": true,
             "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}], "tool_choice": "auto", "stream": false, "seed": null}
            """);
        Assert.Equal(200, status);
        string full = reply.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        string stop = full.Substring(8, 2);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        foreach (object stopValue in new object[] { stop, new[] { "\u0001never", stop } })
        {
            var (s, stopped) = await fixture.PostAsync("v1/chat/completions", new
            {
                messages = new object[] { new { role = "developer", content = "be nice" }, new { role = "user", content = "Hello" } },
                max_tokens = 30, temperature = 0, stop = stopValue,
            });
            Assert.Equal(200, s);
            Assert.Equal(expected, stopped.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
            Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task ATenMegabyteBodyIsRefusedAndTheServerCarriesOn()
    {
        string huge = "{\"messages\": [{\"role\": \"user\", \"content\": \"" + new string('a', 10 * 1024 * 1024) + "\"}]}";
        var (status, reply) = await fixture.PostAsync("v1/chat/completions", huge);
        AssertError(status, reply, 413, "invalid_request_error", code: "request_too_large");
        var (ok, _) = await fixture.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "still there?" } }, max_tokens = 3 });
        Assert.Equal(200, ok);
    }

    [Fact]
    public async Task PromptsLongerThanTheContextAre400()
    {
        string longText = new('x', 700);
        var (status, reply) = await fixture.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = longText } } });
        AssertError(status, reply, 400, "invalid_request_error", code: "context_length_exceeded");
        Assert.Contains("512", reply.GetProperty("error").GetProperty("message").GetString());
        (status, reply) = await fixture.PostAsync("v1/completions", new { prompt = longText });
        AssertError(status, reply, 400, "invalid_request_error", code: "context_length_exceeded");
        (status, reply) = await fixture.PostAsync("v1/embeddings", new { input = longText });
        AssertError(status, reply, 400, "invalid_request_error", code: "context_length_exceeded");
    }

    [Fact]
    public async Task UnknownModelsAndUrlsAre404()
    {
        var (status, reply) = await fixture.PostAsync("v1/chat/completions", new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } } });
        AssertError(status, reply, 404, "invalid_request_error", "model", "model_not_found");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => fixture.OpenAI.GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, e.Status);
        (status, reply) = await fixture.PostAsync("v1/embeddings", new { model = "text-embedding-3-small", input = "hi" });
        AssertError(status, reply, 404, "invalid_request_error", "model", "model_not_found");
        using var missing = await fixture.Http.GetAsync("v1/engines");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("unknown_url", JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("v1/completions", "{}", "prompt")]
    [InlineData("v1/completions", "{\"prompt\": [\"a\", \"b\"]}", "prompt")]
    [InlineData("v1/completions", "{\"prompt\": [1, 99999]}", "prompt[1]")]
    [InlineData("v1/completions", "{\"prompt\": \"a\", \"suffix\": \"b\"}", "suffix")]
    [InlineData("v1/completions", "{\"prompt\": \"a\", \"logprobs\": 2}", "logprobs")]
    [InlineData("v1/embeddings", "{}", "input")]
    [InlineData("v1/embeddings", "{\"input\": []}", "input")]
    [InlineData("v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"int8\"}", "encoding_format")]
    [InlineData("v1/embeddings", "{\"input\": \"a\", \"dimensions\": 0}", "dimensions")]
    [InlineData("v1/embeddings", "{\"input\": [\"a\", 3]}", "input[1]")]
    [InlineData("tokenize", "{}", "content")]
    [InlineData("detokenize", "{\"tokens\": [1, -4]}", "tokens[1]")]
    public async Task BadRequestsToOtherEndpointsAre400(string path, string body, string param)
    {
        var (status, reply) = await fixture.PostAsync(path, body);
        AssertError(status, reply, 400, "invalid_request_error", param);
    }

    [Fact]
    public async Task AWrongApiKeyIs401AndTheRightOneWorks()
    {
        await using var server = await ServerFixture.StartAsync(new MinnowServerOptions { ApiKey = "sesame" });
        await server.Ready;
        var wrong = await Assert.ThrowsAsync<ClientResultException>(() => ServerFixture.Client(server, "wrong").GetChatClient("chat-test").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, wrong.Status);
        using var http = new HttpClient { BaseAddress = server.Address };
        using var none = await http.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("authentication_error", JsonDocument.Parse(await none.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);
        var right = await ServerFixture.Client(server, "sesame").GetChatClient("chat-test").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 3, Temperature = 0 });
        Assert.Equal(3, right.Value.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task AFullQueueIsRefusedWith503()
    {
        await using var server = await ServerFixture.StartAsync(new MinnowServerOptions { MaxConcurrent = 1, Queue = 0 });
        await server.Ready;
        using var http = new HttpClient { BaseAddress = server.Address };
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"messages":[{"role":"user","content":"long"}],"max_tokens":450,"temperature":0,"stream":true}""", Encoding.UTF8, "application/json"),
        };
        using var first = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var second = await http.PostAsync("v1/chat/completions", new StringContent("""{"messages":[{"role":"user","content":"me too"}],"max_tokens":3}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.NotNull(second.Headers.RetryAfter);
        var error = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("server_busy", error.GetProperty("code").GetString());
        Assert.Equal(1, server.Metrics.RejectedBusy);

        // Once the first request ends, the slot is free again.
        cancel.Cancel();
        first.Dispose();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var next = await http.PostAsync("v1/chat/completions", new StringContent("""{"messages":[{"role":"user","content":"now?"}],"max_tokens":3}""", Encoding.UTF8, "application/json"));
            if (next.StatusCode == HttpStatusCode.OK)
                break;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the slot was never freed");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task HealthIs503WhileTheModelLoadsAnd200After()
    {
        using var gate = new ManualResetEventSlim();
        await using var server = await ServerFixture.StartAsync(new MinnowServerOptions(), () =>
        {
            gate.Wait();
            return ChatTestModel.Load();
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        using (var loading = await http.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            var error = JsonDocument.Parse(await loading.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("unavailable_error", error.GetProperty("type").GetString());
            Assert.Equal("Loading model", error.GetProperty("message").GetString());
        }
        using (var models = await http.GetAsync("v1/models"))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, models.StatusCode);
        gate.Set();
        await server.Ready;
        using var ready = await http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task AModelThatFailsToLoadStopsTheServer()
    {
        var server = await ServerFixture.StartAsync(new MinnowServerOptions(), () => throw new ModelFormatException("bad.bin", "not a model"));
        var error = await Assert.ThrowsAsync<ModelFormatException>(() => server.Ready);
        Assert.Contains("bad.bin", error.Message);
        await server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await server.DisposeAsync();
    }
}
