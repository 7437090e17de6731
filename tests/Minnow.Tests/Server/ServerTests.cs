using System.ClientModel;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Net.Http.Json;
using System.Text.Json;
using Minnow.Chat;
using OpenAI.Chat;
using AI = Microsoft.Extensions.AI;

namespace Minnow.Tests.Server;

/// <summary>The server through the official OpenAI .NET client and raw HTTP: what clients see when things go right.</summary>
public class ServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ChatClient Chat => fixture.OpenAI.GetChatClient(fixture.ModelId);

    /// <summary>The same conversation for the OpenAI client and for M.E.AI.</summary>
    private static (List<ChatMessage> OpenAI, List<AI.ChatMessage> Local) Conversation(string question) =>
    (
        [new SystemChatMessage("You answer briefly."), new UserChatMessage("Hello there"), new AssistantChatMessage("Hi! How can I help?"), new UserChatMessage(question)],
        [new(AI.ChatRole.System, "You answer briefly."), new(AI.ChatRole.User, "Hello there"), new(AI.ChatRole.Assistant, "Hi! How can I help?"), new(AI.ChatRole.User, question)]
    );

    private static ChatCompletionOptions Greedy(int max) => new() { Temperature = 0, MaxOutputTokenCount = max };

    [Fact]
    public async Task ListsTheServedModel()
    {
        var models = (await fixture.OpenAI.GetOpenAIModelClient().GetModelsAsync()).Value;
        var model = Assert.Single(models);
        Assert.Equal("chat-test", model.Id);
        Assert.Equal("minnow", model.OwnedBy);
        var one = (await fixture.OpenAI.GetOpenAIModelClient().GetModelAsync("chat-test")).Value;
        Assert.Equal("chat-test", one.Id);
        var meta = (await fixture.Http.GetFromJsonAsync<JsonElement>("v1/models")).GetProperty("data")[0].GetProperty("meta");
        Assert.Equal(512, meta.GetProperty("n_ctx").GetInt32());
        Assert.Equal(259, meta.GetProperty("n_vocab").GetInt32());
        Assert.Equal("plain", meta.GetProperty("chat_format").GetString());
    }

    [Fact]
    public async Task ChatCompletionEqualsTheInProcessClientsGreedyReply()
    {
        var (openai, local) = Conversation("What do minnows eat?");
        ChatCompletion completion = (await Chat.CompleteChatAsync(openai, Greedy(30))).Value;
        var expected = await fixture.Local.GetResponseAsync(local, new AI.ChatOptions { Temperature = 0, MaxOutputTokens = 30 });
        Assert.Equal(expected.Text, completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal("chat-test", completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);

        // Usage matches the tokenizer: the plain-format prompt with BOS, and the 30 generated tokens.
        var tokenizer = fixture.Local.Engine.Model.Tokenizer!;
        int promptTokens = tokenizer.Encode(PlainChatFormatter.Instance.Format(local).Text, addSpecial: true).Length;
        Assert.Equal(promptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(30, completion.Usage.OutputTokenCount);
        Assert.Equal(promptTokens + 30, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task StreamedDeltasConcatenateToThePlainReplyAndEndWithUsage()
    {
        var (openai, _) = Conversation("Describe a river.");
        string plain = (await Chat.CompleteChatAsync(openai, Greedy(40))).Value.Content[0].Text;
        var text = new StringBuilder();
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in Chat.CompleteChatStreamingAsync(openai, Greedy(40)))
        {
            updates.Add(update);
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
        }
        Assert.Equal(plain, text.ToString());
        Assert.True(updates.Count > 3);
        Assert.Equal(ChatMessageRole.Assistant, updates[0].Role);
        Assert.Equal(ChatFinishReason.Length, updates.Single(u => u.FinishReason is not null).FinishReason);
        // The .NET client always asks for include_usage: the last chunk carries the usage.
        var usage = updates[^1].Usage;
        Assert.NotNull(usage);
        Assert.Equal(40, usage.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal(updates[0].CompletionId, u.CompletionId));
    }

    [Fact]
    public async Task RawStreamHasTheOpenAIFraming()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = JsonContent("""{"model":"chat-test","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}"""),
        };
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl!.ToString());
        var events = await ServerFixture.ReadEventsAsync(response);
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Equal("assistant", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var usageChunk = events[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal(5, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(events[..^1], e => Assert.Equal(JsonValueKind.Null, e.GetProperty("usage").ValueKind));
        Assert.Equal("length", events[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    private static StringContent JsonContent(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task CompletionsStreamAndCountTokensAsTheTokenizerDoes()
    {
        var (status, reply) = await fixture.PostAsync("v1/completions", new { model = "chat-test", prompt = "Once upon a time", temperature = 0 });
        Assert.Equal(200, status);
        Assert.Equal("text_completion", reply.GetProperty("object").GetString());
        var choice = reply.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        var usage = reply.GetProperty("usage");
        var (_, tokens) = await fixture.PostAsync("tokenize", new { content = "Once upon a time", add_special = true });
        Assert.Equal(tokens.GetProperty("tokens").GetArrayLength(), usage.GetProperty("prompt_tokens").GetInt32());
        int completionTokens = usage.GetProperty("completion_tokens").GetInt32();
        // OpenAI's default for /v1/completions is 16 new tokens.
        Assert.Equal(choice.GetProperty("finish_reason").GetString() == "length", completionTokens == 16);
        Assert.True(completionTokens <= 16);

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = JsonContent("""{"prompt":"Once upon a time","temperature":0,"stream":true,"echo":true}"""),
        };
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await ServerFixture.ReadEventsAsync(response);
        string streamed = string.Concat(events.Select(e => e.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal("Once upon a time" + text, streamed);

        // Token-id prompts are used verbatim.
        var (idStatus, byIds) = await fixture.PostAsync("v1/completions", new { prompt = tokens.GetProperty("tokens"), temperature = 0 });
        Assert.Equal(200, idStatus);
        Assert.Equal(text, byIds.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task EmbeddingsMatchTheLibraryAsFloatsAndAsBase64()
    {
        var openai = (await fixture.OpenAI.GetEmbeddingClient("chat-test").GenerateEmbeddingAsync("a small silver fish")).Value;
        using var generator = new MinnowEmbeddingGenerator(fixture.Local.Engine);
        var expected = (await generator.GenerateAsync(["a small silver fish"]))[0].Vector.ToArray();
        Assert.Equal(expected, openai.ToFloats().ToArray());

        var (status, floats) = await fixture.PostAsync("v1/embeddings", new { model = "chat-test", input = new[] { "a small silver fish", "stocks" }, encoding_format = "float" });
        Assert.Equal(200, status);
        var data = floats.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        Assert.Equal(1, data[1].GetProperty("index").GetInt32());
        Assert.Equal(expected, data[0].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray());

        var (_, base64) = await fixture.PostAsync("v1/embeddings", new { input = "a small silver fish", encoding_format = "base64", dimensions = 32 });
        byte[] bytes = Convert.FromBase64String(base64.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        float[] decoded = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        Assert.Equal(32, decoded.Length);
        double norm = Math.Sqrt(expected.Take(32).Sum(x => (double)x * x));
        for (int i = 0; i < 32; i++)
            Assert.Equal(expected[i] / norm, decoded[i], 5);
        Assert.Equal(base64.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), base64.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task TokenizeAndDetokenizeRoundTrip()
    {
        var (status, tokens) = await fixture.PostAsync("tokenize", new { content = "héllo, fish", add_special = true });
        Assert.Equal(200, status);
        var ids = tokens.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        Assert.Equal(fixture.Local.Engine.Model.Tokenizer!.Encode("héllo, fish", addSpecial: true), ids);
        var (_, text) = await fixture.PostAsync("detokenize", new { tokens = ids });
        Assert.Equal(fixture.Local.Engine.Model.Tokenizer!.Decode(ids), text.GetProperty("content").GetString());
        var (_, plain) = await fixture.PostAsync("tokenize", new { content = "héllo, fish" });
        var (_, back) = await fixture.PostAsync("detokenize", new { tokens = plain.GetProperty("tokens") });
        Assert.Equal("héllo, fish", back.GetProperty("content").GetString());
        var (_, pieces) = await fixture.PostAsync("tokenize", new { content = "ab", with_pieces = true });
        Assert.Equal("b", pieces.GetProperty("tokens").EnumerateArray().Last().GetProperty("piece").GetString());
    }

    [Fact]
    public async Task HealthMetricsPageAndRequestLog()
    {
        var health = await fixture.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        var page = await fixture.Http.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("v1/chat/completions", html);
        Assert.Contains("<title>Minnow chat</title>", html);
        string metrics = await fixture.Http.GetStringAsync("metrics");
        Assert.Contains("minnow_generations_cancelled_total ", metrics);
        Assert.Contains("minnow_tokens_generated_total ", metrics);
        await fixture.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "log me" } }, max_tokens = 2, temperature = 0 });
        Assert.Contains(fixture.Log.ToString().Split('\n'), line => line.Contains(" POST /v1/chat/completions 200 ") && line.Contains("prompt=") && line.Contains("completion=2"));
    }

    [Fact]
    public async Task SixteenConcurrentStreamsEachGetTheirOwnReply()
    {
        var questions = Enumerable.Range(0, 16).Select(i => Conversation($"Question {i}: what is {i} plus {i}?").OpenAI).ToArray();
        var sequential = new List<string>();
        foreach (var q in questions)
            sequential.Add((await Chat.CompleteChatAsync(q, Greedy(24))).Value.Content[0].Text);
        Assert.True(sequential.Distinct().Count() > 8, "the prompts should lead to different replies");

        long startedBefore = fixture.Server.Model!.Engine.Counters.GenerationsStarted;
        var streams = questions.Select(async q =>
        {
            var text = new StringBuilder();
            await foreach (var update in Chat.CompleteChatStreamingAsync(q, Greedy(24)))
                foreach (var part in update.ContentUpdate)
                    text.Append(part.Text);
            return text.ToString();
        });
        var concurrent = await Task.WhenAll(streams);
        Assert.Equal(sequential, concurrent);
        Assert.Equal(16, fixture.Server.Model!.Engine.Counters.GenerationsStarted - startedBefore);
    }

    [Fact]
    public async Task ADisconnectingClientStopsItsGenerationAndOthersContinue()
    {
        var counters = fixture.Server.Model!.Engine.Counters;
        var (other, _) = Conversation("Keep talking while the other client leaves.");
        string expectedOther = (await Chat.CompleteChatAsync(other, Greedy(200))).Value.Content[0].Text;
        long cancelledBefore = counters.GenerationsCancelled, completedBefore = counters.GenerationsCompleted;

        var otherStream = Task.Run(async () =>
        {
            var text = new StringBuilder();
            await foreach (var update in Chat.CompleteChatStreamingAsync(other, Greedy(200)))
                foreach (var part in update.ContentUpdate)
                    text.Append(part.Text);
            return text.ToString();
        });

        // A client that hangs up mid-stream: a raw socket, so nothing drains the response on its way out.
        async Task HangUp()
        {
            string body = """{"messages":[{"role":"user","content":"Talk for a long time."}],"max_tokens":450,"temperature":0,"stream":true}""";
            using var socket = new System.Net.Sockets.TcpClient();
            await socket.ConnectAsync(fixture.Server.Address.Host, fixture.Server.Address.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/chat/completions HTTP/1.1\r\nHost: {fixture.Server.Address.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
            var reader = new StreamReader(stream);
            for (int events = 0; events < 3;)
                if ((await reader.ReadLineAsync())!.Contains("data: ", StringComparison.Ordinal))
                    events++;
        }

        await HangUp();
        Assert.Equal(expectedOther, await otherStream);
        // The other generation's end is counted too. On a loaded machine the server can finish all 450 tokens of the
        // test model before the hang-up reaches it, and then rightly counts a completed generation: try again.
        int others = 1;
        for (int attempt = 1; ; attempt++)
        {
            await WaitUntil(() => counters.GenerationsCancelled > cancelledBefore || counters.GenerationsCompleted > completedBefore + others);
            if (counters.GenerationsCancelled > cancelledBefore)
                break;
            Assert.True(attempt < 5, "in 5 attempts every hung-up generation ended before the server saw the hang-up");
            (cancelledBefore, completedBefore, others) = (counters.GenerationsCancelled, counters.GenerationsCompleted, 0);
            await HangUp();
        }
        string metrics = await fixture.Http.GetStringAsync("metrics");
        Assert.Contains($"minnow_generations_cancelled_total {counters.GenerationsCancelled}", metrics);
    }

    private static Task WaitUntil(Func<bool> condition) => Minnow.Tests.Chat.ChatClientTests.WaitUntil(condition, 30_000);
}
