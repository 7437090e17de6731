using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tokenizers;
using GenerationFinishReason = Minnow.Generation.FinishReason;

namespace Minnow.Chat;

/// <summary>Settings of a <see cref="MinnowChatClient"/>; every property has a default.</summary>
public sealed record MinnowChatClientOptions
{
    /// <summary>The model's name in responses and metadata (default: <see cref="ModelIds.For"/>).</summary>
    public string? ModelId { get; init; }

    /// <summary>How conversations become prompts (default: the model's template, or <see cref="PlainChatFormatter"/>).</summary>
    public IChatFormatter? Formatter { get; init; }

    /// <summary>New tokens when a request sets no <see cref="ChatOptions.MaxOutputTokens"/> (default: until a stop token or the context is full).</summary>
    public int? DefaultMaxOutputTokens { get; init; }

    /// <summary>Positions each conversation may use, when the client creates its own engine (default: the model's context).</summary>
    public int? ContextLength { get; init; }
}

/// <summary>A conversation ready to generate: its prompt ids and generation options (from <see cref="MinnowChatClient.Prepare"/>).</summary>
public sealed record PreparedChat(ChatPrompt Prompt, int[] PromptIds, GenerationOptions Options);

/// <summary>
/// <see cref="IChatClient"/> over a Minnow model, in-process. Streaming is the primary path; every update carries
/// the assistant role, response id, model id and creation time, and the last one carries
/// <see cref="UsageContent"/> and the <see cref="ChatFinishReason"/>. Thread-safe: concurrent requests run
/// together on one <see cref="InferenceEngine"/> over one copy of the weights.
/// </summary>
/// <remarks>
/// Honours <see cref="ChatOptions"/> Temperature (0 = greedy; default the model's recommendation, else 0.8), TopP, TopK, MaxOutputTokens,
/// StopSequences (matched across token boundaries), Seed (default: random), FrequencyPenalty, PresencePenalty,
/// Instructions (a leading system message) and ModelId (must name this model). <see cref="ChatOptions.AdditionalProperties"/>
/// may carry <c>min_p</c>, <c>repeat_penalty</c> (alias <c>repetition_penalty</c>) and <c>repeat_last_n</c>;
/// <see cref="ChatOptions.RawRepresentationFactory"/> may return a <see cref="GenerationOptions"/> or
/// <see cref="SamplingOptions"/> to start from. Not supported (a <see cref="NotSupportedException"/>): requiring a tool
/// call, JSON response formats, and non-text content. Tools offered with <see cref="ChatToolMode.Auto"/> are ignored.
/// </remarks>
public sealed class MinnowChatClient : IChatClient
{
    private readonly MinnowChatClientOptions _options;
    private readonly bool _ownsEngine;

    /// <summary>Loads the model at <paramref name="modelPath"/>; the client owns it.</summary>
    public MinnowChatClient(string modelPath, MinnowChatClientOptions? options = null)
        : this(ModelLoader.Load(modelPath), options, ownsModel: true) { }

    /// <summary>A client over an already-loaded model, with its own engine; with <paramref name="ownsModel"/>, disposing the client disposes the model.</summary>
    public MinnowChatClient(LoadedModel model, MinnowChatClientOptions? options = null, bool ownsModel = false)
        : this(new InferenceEngine(model, options?.ContextLength, ownsModel), options, ownsEngine: true) { }

    /// <summary>A client sharing <paramref name="engine"/> (and so the weights) with other clients, e.g. a <see cref="MinnowEmbeddingGenerator"/>.</summary>
    public MinnowChatClient(InferenceEngine engine, MinnowChatClientOptions? options = null, bool ownsEngine = false)
    {
        _options = options ?? new MinnowChatClientOptions();
        if (_options.DefaultMaxOutputTokens is <= 0)
            throw new InvalidInputException($"default max output tokens must be positive, got {_options.DefaultMaxOutputTokens}");
        Engine = engine;
        _ownsEngine = ownsEngine;
        ModelId = _options.ModelId ?? ModelIds.For(engine.Model);
        string? note = null;
        Formatter = _options.Formatter ?? ChatFormatters.ForModel(engine.Model, out note);
        FormatterNote = note;
        Metadata = new ChatClientMetadata("minnow", ModelIds.SourceUri(engine.Model), ModelId);
    }

    public InferenceEngine Engine { get; }
    public string ModelId { get; }
    public IChatFormatter Formatter { get; }

    /// <summary>Set when no chat template was found and the plain format is used: show it to the user once.</summary>
    public string? FormatterNote { get; }

    public ChatClientMetadata Metadata { get; }

    private ITokenizer Tokenizer => Engine.Model.Tokenizer
        ?? throw new InvalidInputException($"{Engine.Model.Source} has no tokenizer, so it cannot chat: give it a tokenizer");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        StreamAsync(() => Prepare(messages, options), cancellationToken);

    /// <summary>
    /// Streams the reply to a prepared conversation (see <see cref="Prepare"/>); the HTTP server prepares first so it
    /// can report bad requests before it starts a stream.
    /// </summary>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(PreparedChat chat, CancellationToken cancellationToken = default) =>
        StreamAsync(() => chat, cancellationToken);

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(Func<PreparedChat> prepare, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chat = prepare();
        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        var stats = new GenerationStats();
        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents)
        {
            ResponseId = responseId,
            MessageId = responseId,
            CreatedAt = created,
            ModelId = ModelId,
        };

        await foreach (var token in Engine.GenerateAsync(chat.PromptIds, chat.Options, stats, cancellationToken).ConfigureAwait(false))
            if (token.Text.Length > 0)
                yield return Update([new TextContent(token.Text)]);

        var usage = new UsageDetails
        {
            InputTokenCount = stats.PromptTokens,
            OutputTokenCount = stats.GeneratedTokens,
            TotalTokenCount = stats.PromptTokens + stats.GeneratedTokens,
            CachedInputTokenCount = 0,
        };
        var last = Update([new UsageContent(usage)]);
        last.FinishReason = stats.FinishReason == GenerationFinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length;
        yield return last;
    }

    /// <summary>
    /// Checks a request and turns it into prompt ids and generation options: formats the conversation, tokenizes it,
    /// checks it fits the context and maps <paramref name="options"/>. Throws <see cref="InvalidInputException"/>,
    /// <see cref="ContextLengthException"/> or <see cref="NotSupportedException"/> for a request it cannot serve.
    /// </summary>
    public PreparedChat Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        if (list.Count == 0)
            throw new InvalidInputException("the conversation is empty: give at least one message");
        for (int i = 0; i < list.Count; i++)
            foreach (var content in list[i].Contents)
                if (content is not TextContent)
                    throw new NotSupportedException($"message {i} ({list[i].Role}) contains {content.GetType().Name}; Minnow's chat reads text only");
        if (options?.ModelId is { Length: > 0 } requested && requested != ModelId)
            throw new InvalidInputException($"model '{requested}' is not served here; this client serves '{ModelId}'");
        if (options?.ToolMode is RequiredChatToolMode)
            throw new NotSupportedException("tool calling is not supported yet, so a tool call cannot be required");
        if (options?.ResponseFormat is ChatResponseFormatJson)
            throw new NotSupportedException("JSON response formats (constrained decoding) are not supported yet");
        if (options?.Instructions is { Length: > 0 } instructions)
            list.Insert(0, new ChatMessage(ChatRole.System, instructions));

        var prompt = Formatter.Format(list);
        int[] ids = Tokenizer.Encode(prompt.Text, prompt.AddSpecial, prompt.ParseSpecial);
        if (ids.Length == 0)
            throw new InvalidInputException("the conversation encodes to no tokens");
        // The prompt must leave room for at least one new token.
        if (ids.Length >= Engine.ContextLength)
            throw new ContextLengthException(ids.Length + 1, Engine.ContextLength);
        var generation = MapOptions(options, Engine.ContextLength - ids.Length, prompt.StopSequences);
        return new PreparedChat(prompt, ids, generation);
    }

    /// <summary>
    /// Maps M.E.AI options onto <see cref="GenerationOptions"/>, with at most <paramref name="room"/> new tokens (what
    /// the context has left). Also used by the HTTP server for raw completions.
    /// </summary>
    public GenerationOptions MapOptions(ChatOptions? options, int room, IReadOnlyList<string>? extraStops = null)
    {
        var baseline = options?.RawRepresentationFactory?.Invoke(this) switch
        {
            GenerationOptions g => g,
            SamplingOptions s => new GenerationOptions { Sampling = s },
            _ => null,
        };
        // Unset options fall back to the model's recommended sampling (HF generation_config.json), then Minnow's defaults.
        var sampling = baseline?.Sampling ?? (Engine.Model.SamplingDefaults ?? new SamplingOptions()) with { Seed = (ulong)Random.Shared.NextInt64() };
        if (options is not null)
        {
            var extra = options.AdditionalProperties;
            sampling = sampling with
            {
                Temperature = options.Temperature ?? sampling.Temperature,
                TopP = options.TopP ?? sampling.TopP,
                TopK = options.TopK ?? sampling.TopK,
                Seed = options.Seed is long seed ? unchecked((ulong)seed) : sampling.Seed,
                FrequencyPenalty = options.FrequencyPenalty ?? sampling.FrequencyPenalty,
                PresencePenalty = options.PresencePenalty ?? sampling.PresencePenalty,
                MinP = Extra(extra, "min_p") ?? sampling.MinP,
                RepeatPenalty = Extra(extra, "repeat_penalty") ?? Extra(extra, "repetition_penalty") ?? sampling.RepeatPenalty,
                RepeatLastN = (int?)Extra(extra, "repeat_last_n") ?? sampling.RepeatLastN,
            };
        }
        sampling.Validate();

        int? requested = options?.MaxOutputTokens ?? (baseline is null ? _options.DefaultMaxOutputTokens : baseline.MaxTokens);
        if (requested is <= 0)
            throw new InvalidInputException($"max output tokens must be positive, got {requested}");
        var stops = new List<string>(baseline?.StopSequences ?? []);
        stops.AddRange(extraStops ?? []);
        stops.AddRange(options?.StopSequences ?? []);
        return new GenerationOptions
        {
            MaxTokens = Math.Min(requested ?? room, room),
            Sampling = sampling,
            StopSequences = stops,
            StopTokens = Engine.Model.StopTokens,
            SkipSpecialTokens = true,
        };
    }

    private static float? Extra(AdditionalPropertiesDictionary? extra, string name)
    {
        if (extra is null || !extra.TryGetValue(name, out object? value) || value is null)
            return null;
        try
        {
            return value switch
            {
                JsonElement { ValueKind: JsonValueKind.Number } e => e.GetSingle(),
                JsonElement e => throw new FormatException(e.ToString()),
                _ => Convert.ToSingle(value, CultureInfo.InvariantCulture),
            };
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException)
        {
            throw new InvalidInputException($"{name} must be a number, got '{value}'");
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(ChatClientMetadata))
            return Metadata;
        object?[] candidates = [this, Engine, Engine.Model, Engine.Model.Model, Engine.Model.Tokenizer, Formatter];
        return candidates.FirstOrDefault(serviceType.IsInstanceOfType);
    }

    public void Dispose()
    {
        if (_ownsEngine)
            Engine.Dispose();
    }
}

/// <summary>How a loaded model is named to clients.</summary>
public static class ModelIds
{
    /// <summary>"minnow-default" for the default model, otherwise the file (or folder) name without its extension.</summary>
    public static string For(LoadedModel model)
    {
        string full = Path.GetFullPath(model.Source).TrimEnd(Path.DirectorySeparatorChar);
        if (string.Equals(full, Path.GetFullPath(DefaultModel.Path).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            return DefaultModel.Id;
        string name = Path.GetFileNameWithoutExtension(full.TrimEnd(Path.DirectorySeparatorChar));
        return name.Length > 0 ? name : "model";
    }

    /// <summary>The model's file as a URI, for <see cref="ChatClientMetadata.ProviderUri"/>.</summary>
    public static Uri SourceUri(LoadedModel model) => new(Path.GetFullPath(model.Source));
}
