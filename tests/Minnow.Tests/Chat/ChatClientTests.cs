using Microsoft.Extensions.AI;
using Minnow.Chat;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Tests.Chat;

/// <summary>One chat client (and engine) over the test model, shared by the tests of a class.</summary>
public sealed class ChatClientFixture : IDisposable
{
    public MinnowChatClient Client { get; } = new(ChatTestModel.Load(), ownsModel: true);
    public void Dispose() => Client.Dispose();
}

public class ChatClientTests(ChatClientFixture fixture) : IClassFixture<ChatClientFixture>
{
    private MinnowChatClient Client => fixture.Client;

    private static ChatOptions Greedy(int max) => new() { Temperature = 0, MaxOutputTokens = max };

    private static List<ChatMessage> Conversation(string question) =>
    [
        new(ChatRole.System, "You answer briefly."),
        new(ChatRole.User, "Hello there"),
        new(ChatRole.Assistant, "Hi! How can I help?"),
        new(ChatRole.User, question),
    ];

    [Fact]
    public void PlainFormatIsTheDocumentedTranscript()
    {
        var prompt = PlainChatFormatter.Instance.Format(Conversation("What is a minnow?"));
        Assert.Equal("You answer briefly.\n\nUser: Hello there\nAssistant: Hi! How can I help?\nUser: What is a minnow?\nAssistant:", prompt.Text);
        Assert.True(prompt.AddSpecial);
        Assert.Equal(["\nUser:", "\nAssistant:"], prompt.StopSequences);
        Assert.Equal(ChatFormatters.PlainFallbackNote, Client.FormatterNote);
        Assert.Equal("plain", Client.Formatter.Name);
    }

    [Fact]
    public async Task StreamingUpdatesCarryIdentityAndEndWithUsageAndFinishReason()
    {
        var messages = Conversation("Tell me about fish.");
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client.GetStreamingResponseAsync(messages, Greedy(12)))
            updates.Add(update);

        Assert.True(updates.Count >= 2);
        Assert.All(updates, u =>
        {
            Assert.Equal(ChatRole.Assistant, u.Role);
            Assert.Equal(updates[0].ResponseId, u.ResponseId);
            Assert.StartsWith("chatcmpl-", u.ResponseId);
            Assert.Equal("chat-test", u.ModelId);
            Assert.NotNull(u.CreatedAt);
        });
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        var usage = Assert.Single(last.Contents.OfType<UsageContent>()).Details;
        int promptTokens = Tokenizer.Encode(PlainChatFormatter.Instance.Format(messages).Text, addSpecial: true).Length;
        Assert.Equal(promptTokens, usage.InputTokenCount);
        Assert.Equal(12, usage.OutputTokenCount);
        Assert.Equal(promptTokens + 12, usage.TotalTokenCount);
    }

    private ITokenizer Tokenizer => Client.Engine.Model.Tokenizer!;

    [Fact]
    public async Task ResponseEqualsTheConcatenatedStreamAndTheGeneratorsTokens()
    {
        var messages = Conversation("Where do minnows live?");
        var response = await Client.GetResponseAsync(messages, Greedy(30));
        string streamed = "";
        await foreach (var update in Client.GetStreamingResponseAsync(messages, Greedy(30)))
            streamed += update.Text;
        Assert.Equal(response.Text, streamed);
        Assert.True(response.Text.Length > 0);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(30, response.Usage!.OutputTokenCount);

        // The engine interleaves sequences but must compute exactly what the plain Generator computes.
        var prepared = Client.Prepare(messages, Greedy(30));
        var stats = new GenerationStats();
        string direct = "";
        await foreach (var token in new Generator(Client.Engine.Model.Model, Tokenizer).GenerateAsync(prepared.PromptIds, prepared.Options, stats))
            direct += token.Text;
        Assert.Equal(response.Text, direct);
    }

    [Fact]
    public async Task SeedMakesSamplingRepeatableAndDifferentSeedsDiffer()
    {
        var messages = Conversation("Pick a number.");
        ChatOptions Sampled(long seed) => new() { Temperature = 1f, TopK = 40, TopP = 0.95f, Seed = seed, MaxOutputTokens = 20 };
        string a = (await Client.GetResponseAsync(messages, Sampled(5))).Text;
        string b = (await Client.GetResponseAsync(messages, Sampled(5))).Text;
        Assert.Equal(a, b);
        var others = new List<string>();
        for (long seed = 6; seed < 10; seed++)
            others.Add((await Client.GetResponseAsync(messages, Sampled(seed))).Text);
        Assert.Contains(others, o => o != a);
    }

    [Fact]
    public async Task StopSequencesEndTheReplyBeforeTheStopText()
    {
        var messages = Conversation("Say something long.");
        string full = (await Client.GetResponseAsync(messages, Greedy(40))).Text;
        // A stop string taken from the middle of the greedy reply (spanning several byte tokens).
        string stop = full.Substring(10, 3);
        var stopped = await Client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 40, StopSequences = [stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task InstructionsActAsALeadingSystemMessage()
    {
        List<ChatMessage> user = [new(ChatRole.User, "Hi")];
        string viaInstructions = (await Client.GetResponseAsync(user, new ChatOptions { Temperature = 0, MaxOutputTokens = 15, Instructions = "Be kind." })).Text;
        string viaSystem = (await Client.GetResponseAsync([new(ChatRole.System, "Be kind."), .. user], Greedy(15))).Text;
        Assert.Equal(viaSystem, viaInstructions);
    }

    [Fact]
    public async Task PenaltiesAndExtraSamplingOptionsChangeTheReply()
    {
        var messages = Conversation("Repeat after me.");
        string plain = (await Client.GetResponseAsync(messages, Greedy(40))).Text;
        var penalised = new ChatOptions { Temperature = 0, MaxOutputTokens = 40, FrequencyPenalty = 2f, PresencePenalty = 1f };
        Assert.NotEqual(plain, (await Client.GetResponseAsync(messages, penalised)).Text);
        var repeat = new ChatOptions { Temperature = 0, MaxOutputTokens = 40, AdditionalProperties = new() { ["repeat_penalty"] = 3.0 } };
        Assert.NotEqual(plain, (await Client.GetResponseAsync(messages, repeat)).Text);
        var raw = new ChatOptions { MaxOutputTokens = 40, RawRepresentationFactory = _ => SamplingOptions.Greedy };
        Assert.Equal(plain, (await Client.GetResponseAsync(messages, raw)).Text);
    }

    [Fact]
    public async Task ConcurrentRequestsGetTheirOwnReplies()
    {
        var questions = Enumerable.Range(0, 8).Select(i => Conversation($"Question number {i}?")).ToArray();
        var sequential = new List<string>();
        foreach (var q in questions)
            sequential.Add((await Client.GetResponseAsync(q, Greedy(25))).Text);
        Assert.True(sequential.Distinct().Count() > 1, "the prompts should lead to different replies");
        var concurrent = await Task.WhenAll(questions.Select(q => Task.Run(() => Client.GetResponseAsync(q, Greedy(25)))));
        Assert.Equal(sequential, concurrent.Select(r => r.Text));
    }

    [Fact]
    public async Task CancellingStopsTheGenerationPromptlyAndIsCounted()
    {
        var counters = Client.Engine.Counters;
        await UntilCancelledWhileRunning(async () =>
        {
            long tokensBefore = counters.TokensGenerated;
            using var cts = new CancellationTokenSource();
            int received = 0;
            bool threw = false;
            try
            {
                await foreach (var update in Client.GetStreamingResponseAsync(Conversation("Go on forever."), Greedy(400), cts.Token))
                    if (++received == 3)
                        cts.Cancel();
            }
            catch (OperationCanceledException)
            {
                threw = true;
            }
            return () =>
            {
                Assert.True(threw, "the reader of a cancelled generation gets an OperationCanceledException");
                Assert.True(counters.TokensGenerated - tokensBefore < 400, $"{counters.TokensGenerated - tokensBefore} tokens generated after cancelling at 3");
            };
        });
        long tokensAfterCancel = counters.TokensGenerated;
        await Task.Delay(100);
        Assert.Equal(tokensAfterCancel, counters.TokensGenerated);

        // Abandoning the stream (breaking out of the loop) also stops the generation.
        await UntilCancelledWhileRunning(async () =>
        {
            await foreach (var update in Client.GetStreamingResponseAsync(Conversation("And again."), Greedy(400)))
                break;
            return () => { };
        });
    }

    /// <summary>
    /// Runs <paramref name="scenario"/> (which cancels or abandons a generation) until the cancellation reaches a
    /// generation that is still running, then runs the checks it returns. The test model writes 400 tokens in a
    /// fraction of a second, so on a loaded machine the reader can come back after the end; the engine then rightly
    /// counts a completed generation, not a cancelled one, and the attempt proves nothing either way.
    /// </summary>
    private async Task UntilCancelledWhileRunning(Func<Task<Action>> scenario)
    {
        var counters = Client.Engine.Counters;
        for (int attempt = 1; ; attempt++)
        {
            long cancelled = counters.GenerationsCancelled, completed = counters.GenerationsCompleted;
            var checks = await scenario();
            await WaitUntil(() => counters.GenerationsCancelled > cancelled || counters.GenerationsCompleted > completed);
            if (counters.GenerationsCancelled > cancelled)
            {
                checks();
                return;
            }
            Assert.True(attempt < 5, "in 5 attempts every generation ended before the reader cancelled it");
        }
    }

    internal static async Task WaitUntil(Func<bool> condition, int timeoutMs = 10_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.ElapsedMilliseconds < timeoutMs, "condition not reached in time");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task BadRequestsAreTypedErrors()
    {
        await Assert.ThrowsAsync<InvalidInputException>(() => Client.GetResponseAsync([], Greedy(5)));
        var tooLong = new ChatMessage(ChatRole.User, new string('x', 600));
        await Assert.ThrowsAsync<ContextLengthException>(() => Client.GetResponseAsync([tooLong], Greedy(5)));
        await Assert.ThrowsAsync<InvalidInputException>(() => Client.GetResponseAsync(Conversation("x"), Greedy(0)));
        await Assert.ThrowsAsync<InvalidInputException>(() => Client.GetResponseAsync(Conversation("x"), new ChatOptions { Temperature = -1 }));
        await Assert.ThrowsAsync<InvalidInputException>(() => Client.GetResponseAsync(Conversation("x"), new ChatOptions { ModelId = "gpt-4o" }));
        var image = new ChatMessage(ChatRole.User, [new TextContent("look"), new DataContent(new byte[] { 1, 2 }, "image/png")]);
        await Assert.ThrowsAsync<NotSupportedException>(() => Client.GetResponseAsync([image]));
        await Assert.ThrowsAsync<NotSupportedException>(() => Client.GetResponseAsync(Conversation("x"), new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        await Assert.ThrowsAsync<NotSupportedException>(() => Client.GetResponseAsync(Conversation("x"), new ChatOptions { ToolMode = ChatToolMode.RequireAny }));
    }

    [Fact]
    public async Task MaxOutputTokensBeyondTheContextStopAtTheContext()
    {
        var response = await Client.GetResponseAsync([new ChatMessage(ChatRole.User, new string('y', 400))], new ChatOptions { Temperature = 1, Seed = 3, MaxOutputTokens = 1_000_000_000, StopSequences = ["\u0001never"] });
        Assert.True(response.Usage!.InputTokenCount + response.Usage.OutputTokenCount <= Client.Engine.ContextLength);
    }

    [Fact]
    public void GetServiceAnswersMetadataModelTokenizerAndItself()
    {
        var metadata = Client.GetService<ChatClientMetadata>()!;
        Assert.Equal("minnow", metadata.ProviderName);
        Assert.Equal("chat-test", metadata.DefaultModelId);
        Assert.Equal(ChatTestModel.FilePath, metadata.ProviderUri!.LocalPath);
        Assert.Same(Client, Client.GetService<MinnowChatClient>());
        Assert.Same(Client, Client.GetService<IChatClient>());
        Assert.Same(Client.Engine, Client.GetService<InferenceEngine>());
        Assert.Same(Client.Engine.Model, Client.GetService<LoadedModel>());
        Assert.Same(Client.Engine.Model.Model, Client.GetService<ILanguageModel>());
        Assert.Same(Client.Engine.Model.Tokenizer, Client.GetService<ITokenizer>());
        Assert.Null(Client.GetService<ChatClientMetadata>("some-key"));
        Assert.Null(Client.GetService<string>());
        Assert.Throws<ArgumentNullException>(() => Client.GetService(null!));
    }
}

public class EmbeddingGeneratorTests
{
    [Fact]
    public async Task EmbeddingsAreUnitLengthMeanPooledAndTruncatedThenRenormalised()
    {
        using var loaded = ChatTestModel.Load();
        using var engine = new InferenceEngine(loaded);
        using var embeddings = new MinnowEmbeddingGenerator(engine);
        using var chat = new MinnowChatClient(engine);
        Assert.Same(chat.Engine, embeddings.Engine); // one engine, one copy of the weights

        var result = await embeddings.GenerateAsync(["a small fish", "a small fish", "the stock market"]);
        Assert.Equal(3, result.Count);
        Assert.Equal(128, embeddings.Dimensions);
        foreach (var e in result)
        {
            Assert.Equal(128, e.Vector.Length);
            Assert.Equal(1.0, Norm(e.Vector.Span), 5);
            Assert.Equal("chat-test", e.ModelId);
        }
        Assert.Equal(result[0].Vector.ToArray(), result[1].Vector.ToArray());
        Assert.NotEqual(result[0].Vector.ToArray(), result[2].Vector.ToArray());
        var tokenizer = loaded.Tokenizer!;
        long tokens = new[] { "a small fish", "a small fish", "the stock market" }.Sum(t => tokenizer.Encode(t, addSpecial: true).Length);
        Assert.Equal(tokens, result.Usage!.InputTokenCount);

        // The pooled vector is the mean of ForwardHidden's rows, normalised.
        int[] ids = tokenizer.Encode("a small fish", addSpecial: true);
        var hidden = new float[ids.Length * 128];
        loaded.Model.ForwardHidden(loaded.Model.CreateState(), ids, hidden);
        var mean = new double[128];
        for (int t = 0; t < ids.Length; t++)
            for (int i = 0; i < 128; i++)
                mean[i] += hidden[t * 128 + i] / ids.Length;
        double norm = Math.Sqrt(mean.Sum(x => x * x));
        for (int i = 0; i < 128; i++)
            Assert.Equal(mean[i] / norm, result[0].Vector.Span[i], 5);

        // Dimensions: the first N components, renormalised to unit length.
        var truncated = (await embeddings.GenerateAsync(["a small fish"], new EmbeddingGenerationOptions { Dimensions = 16 }))[0];
        Assert.Equal(16, truncated.Vector.Length);
        Assert.Equal(1.0, Norm(truncated.Vector.Span), 5);
        double prefixNorm = Norm(result[0].Vector.Span[..16]);
        for (int i = 0; i < 16; i++)
            Assert.Equal(result[0].Vector.Span[i] / prefixNorm, truncated.Vector.Span[i], 5);

        await Assert.ThrowsAsync<InvalidInputException>(() => embeddings.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 129 }));
        await Assert.ThrowsAsync<ContextLengthException>(() => embeddings.GenerateAsync([new string('z', 600)]));
        var metadata = embeddings.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal(128, metadata.DefaultModelDimensions);
        Assert.Equal("minnow", metadata.ProviderName);
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (float x in v)
            s += (double)x * x;
        return Math.Sqrt(s);
    }

    [Fact]
    public void OwnershipDecidesWhoDisposesTheModel()
    {
        var loaded = ChatTestModel.Load();
        new MinnowChatClient(loaded).Dispose();
        new MinnowEmbeddingGenerator(loaded).Dispose();
        // Not owned: still usable.
        loaded.Model.Forward(loaded.Model.CreateState(), [1], new float[loaded.Model.Config.VocabSize]);
        using var owner = new MinnowChatClient(loaded, ownsModel: true);
    }
}
