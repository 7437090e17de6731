using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Minnow.Chat;
using Minnow.Generation;
using Minnow.Tokenizers;

namespace Minnow.Server;

/// <summary>
/// <c>/v1/chat/completions</c>, <c>/v1/completions</c> and <c>/v1/embeddings</c>, shaped as OpenAI's API and
/// accepting what its clients send (see ECOSYSTEM.md): <c>max_tokens</c> or <c>max_completion_tokens</c>,
/// <c>stop</c> as a string or an array, message content as a string or an array of text parts,
/// <c>stream_options.include_usage</c>, and embeddings as floats or base64.
/// </summary>
internal sealed class GenerationEndpoints(ServerState state)
{
    /// <summary>OpenAI's default for the legacy completions endpoint.</summary>
    private const int DefaultCompletionTokens = 16;

    public async Task ChatCompletionsAsync(HttpContext context)
    {
        var model = state.RequireModel();
        var (document, request) = await JsonRequest.ReadAsync(context.Request, state.Options.MaxRequestBodyBytes, context.RequestAborted);
        using var _ = document;
        state.CheckModelId(request.String("model"));
        var messages = ReadMessages(request);
        var options = ReadOptions(request, chat: true);
        var (stream, includeUsage) = ReadStreaming(request);
        var prepared = model.Chat.Prepare(messages, options);
        context.Items[ServerState.LogKey] = $" prompt={prepared.PromptIds.Length}{(stream ? " stream" : "")}";

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, state.Stopping);
        using var lease = await state.EnterAsync(cancel.Token);
        var reply = new OpenAIReply(model.Id, "chatcmpl-", "chat.completion", includeUsage);
        var updates = model.Chat.GetStreamingResponseAsync(prepared, cancel.Token);
        if (stream)
        {
            var sse = new SseWriter(context.Response);
            await sse.StartAsync(cancel.Token);
            await sse.WriteAsync(json => reply.WriteChatChunk(json, "", role: true), cancel.Token);
            await foreach (var update in updates)
            {
                if (reply.Absorb(update) is { Length: > 0 } text)
                    await sse.WriteAsync(json => reply.WriteChatChunk(json, text), cancel.Token);
            }
            await sse.WriteAsync(reply.WriteChatFinish, cancel.Token);
            if (includeUsage)
                await sse.WriteAsync(reply.WriteUsageChunk, cancel.Token);
            await sse.DoneAsync(cancel.Token);
        }
        else
        {
            var text = new StringBuilder();
            await foreach (var update in updates)
                text.Append(reply.Absorb(update));
            await JsonOut.WriteAsync(context.Response, 200, json => reply.WriteChatCompletion(json, text.ToString()), cancel.Token);
        }
        context.Items[ServerState.LogKey] = reply.LogDetails(stream);
    }

    public async Task CompletionsAsync(HttpContext context)
    {
        var model = state.RequireModel();
        var (document, request) = await JsonRequest.ReadAsync(context.Request, state.Options.MaxRequestBodyBytes, context.RequestAborted);
        using var _ = document;
        state.CheckModelId(request.String("model"));
        if (request.Get("suffix") is not null)
            throw ApiException.BadRequest("'suffix' (fill-in-the-middle) is not supported.", "suffix");
        var (ids, promptText) = ReadPrompt(request, model);
        var options = ReadOptions(request, chat: false);
        options.MaxOutputTokens ??= DefaultCompletionTokens;
        var (stream, includeUsage) = ReadStreaming(request);
        bool echo = request.Bool("echo") ?? false;
        if (ids.Length >= model.Engine.ContextLength)
            throw new ContextLengthException(ids.Length + 1, model.Engine.ContextLength);
        var generation = model.Chat.MapOptions(options, model.Engine.ContextLength - ids.Length);
        context.Items[ServerState.LogKey] = $" prompt={ids.Length}{(stream ? " stream" : "")}";

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, state.Stopping);
        using var lease = await state.EnterAsync(cancel.Token);
        var reply = new OpenAIReply(model.Id, "cmpl-", "text_completion", includeUsage);
        var stats = new GenerationStats();
        var tokens = model.Engine.GenerateAsync(ids, generation, stats, cancel.Token);
        if (stream)
        {
            var sse = new SseWriter(context.Response);
            await sse.StartAsync(cancel.Token);
            if (echo)
                await sse.WriteAsync(json => reply.WriteTextChunk(json, promptText, null), cancel.Token);
            await foreach (var token in tokens)
                if (token.Text.Length > 0)
                    await sse.WriteAsync(json => reply.WriteTextChunk(json, token.Text, null), cancel.Token);
            reply.Finish(stats);
            await sse.WriteAsync(json => reply.WriteTextChunk(json, "", reply.FinishReason), cancel.Token);
            if (includeUsage)
                await sse.WriteAsync(reply.WriteUsageChunk, cancel.Token);
            await sse.DoneAsync(cancel.Token);
        }
        else
        {
            var text = new StringBuilder(echo ? promptText : "");
            await foreach (var token in tokens)
                text.Append(token.Text);
            reply.Finish(stats);
            await JsonOut.WriteAsync(context.Response, 200, json => reply.WriteTextCompletion(json, text.ToString()), cancel.Token);
        }
        context.Items[ServerState.LogKey] = reply.LogDetails(stream);
    }

    public async Task EmbeddingsAsync(HttpContext context)
    {
        var model = state.RequireModel();
        var (document, request) = await JsonRequest.ReadAsync(context.Request, state.Options.MaxRequestBodyBytes, context.RequestAborted);
        using var _ = document;
        state.CheckModelId(request.String("model"));
        string format = request.String("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiException.BadRequest($"'encoding_format' must be 'float' or 'base64', got '{format}'.", "encoding_format");
        long? dimensions = request.Integer("dimensions");
        if (dimensions is < 1 || dimensions > model.Embeddings.Dimensions)
            throw ApiException.BadRequest($"'dimensions' must be between 1 and {model.Embeddings.Dimensions}, got {dimensions}.", "dimensions");
        var inputs = ReadEmbeddingInputs(request, model);
        var options = new EmbeddingGenerationOptions { Dimensions = (int?)dimensions };

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, state.Stopping);
        using var lease = await state.EnterAsync(cancel.Token);
        var embeddings = await model.Embeddings.GenerateFromTokensAsync(inputs, options, cancel.Token);
        long tokens = embeddings.Usage?.InputTokenCount ?? 0;
        await JsonOut.WriteAsync(context.Response, 200, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            for (int i = 0; i < embeddings.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("object", "embedding");
                json.WriteNumber("index", i);
                var vector = embeddings[i].Vector.Span;
                if (format == "base64")
                    // Little-endian float32 bytes, as OpenAI's clients decode them.
                    json.WriteBase64String("embedding", BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(vector) : LittleEndian(vector));
                else
                {
                    json.WriteStartArray("embedding");
                    foreach (float x in vector)
                        json.WriteNumberValue(x);
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("model", model.Id);
            json.WriteStartObject("usage");
            json.WriteNumber("prompt_tokens", tokens);
            json.WriteNumber("total_tokens", tokens);
            json.WriteEndObject();
            json.WriteEndObject();
        }, cancel.Token);
        context.Items[ServerState.LogKey] = $" inputs={inputs.Count} tokens={tokens}";
    }

    private static byte[] LittleEndian(ReadOnlySpan<float> vector)
    {
        var bytes = new byte[vector.Length * 4];
        for (int i = 0; i < vector.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), vector[i]);
        return bytes;
    }

    public static ITokenizer RequireTokenizer(ServedModel model) => model.Engine.Model.Tokenizer
        ?? throw ApiException.BadRequest($"The model '{model.Id}' has no tokenizer, so it only takes token ids.");

    /// <summary>Reads a JSON array of token ids, each inside the vocabulary.</summary>
    public static int[] ReadIds(JsonElement array, string param, int vocab)
    {
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id) || id < 0 || id >= vocab)
                throw ApiException.BadRequest($"'{param}[{i}]' must be a token id in [0, {vocab}), got {item}.", $"{param}[{i}]");
            ids[i++] = id;
        }
        return ids;
    }

    private static readonly Dictionary<string, ChatRole> Roles = new()
    {
        ["system"] = ChatRole.System,
        ["developer"] = ChatRole.System,
        ["user"] = ChatRole.User,
        ["assistant"] = ChatRole.Assistant,
        ["tool"] = ChatRole.Tool,
    };

    private static List<ChatMessage> ReadMessages(JsonRequest request)
    {
        if (request.Get("messages") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' is required: a non-empty array of {\"role\", \"content\"} objects.", "messages");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"'{at}' must be an object with 'role' and 'content'.", at);
            var message = request.Nested(item, at + ".");
            string role = message.String("role") ?? throw ApiException.BadRequest($"'{at}.role' is required.", at + ".role");
            if (!Roles.TryGetValue(role, out var chatRole))
                throw ApiException.BadRequest($"'{at}.role' must be one of system, developer, user, assistant, tool; got '{role}'.", at + ".role");
            messages.Add(new ChatMessage(chatRole, ReadContent(message, at + ".content")));
        }
        return messages;
    }

    /// <summary>Content as a string, an array of text parts, or null (an assistant turn that only called tools).</summary>
    private static string ReadContent(JsonRequest message, string at)
    {
        switch (message.Get("content"))
        {
            case null:
                return "";
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var text = new StringBuilder();
                int j = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    string where = $"{at}[{j++}]";
                    if (part.ValueKind == JsonValueKind.String)
                    {
                        text.Append(part.GetString());
                        continue;
                    }
                    var p = message.Nested(part, "");
                    if (part.ValueKind != JsonValueKind.Object || p.String("type") != "text" || p.String("text") is not string value)
                        throw ApiException.BadRequest($"'{where}' must be a text part {{\"type\": \"text\", \"text\": \"...\"}}; this server's models read text only.", where);
                    text.Append(value);
                }
                return text.ToString();
            default:
                throw ApiException.BadRequest($"'{at}' must be a string or an array of text parts.", at);
        }
    }

    /// <summary>The sampling and length fields shared by both generation endpoints, as M.E.AI options.</summary>
    private static ChatOptions ReadOptions(JsonRequest request, bool chat)
    {
        var options = new ChatOptions();
        string maxName = request.Get("max_completion_tokens") is not null ? "max_completion_tokens" : "max_tokens";
        if (request.Integer(maxName) is long max)
        {
            if (max < 1)
                throw ApiException.BadRequest($"'{maxName}' must be at least 1, got {max}.", maxName);
            options.MaxOutputTokens = (int)Math.Min(max, int.MaxValue);
        }
        options.Temperature = request.Number("temperature");
        if (options.Temperature is < 0)
            throw ApiException.BadRequest($"'temperature' must be ≥ 0, got {options.Temperature}.", "temperature");
        options.TopP = request.Number("top_p");
        if (options.TopP is float topP && !(topP > 0 && topP <= 1))
            throw ApiException.BadRequest($"'top_p' must be in (0, 1], got {topP}.", "top_p");
        if (request.Integer("top_k") is long topK)
            options.TopK = topK >= 0 && topK <= int.MaxValue ? (int)topK : throw ApiException.BadRequest($"'top_k' must be ≥ 0, got {topK}.", "top_k");
        options.FrequencyPenalty = request.Number("frequency_penalty");
        options.PresencePenalty = request.Number("presence_penalty");
        options.Seed = request.Integer("seed");
        foreach (string name in (string[])["min_p", "repeat_penalty", "repetition_penalty", "repeat_last_n"])
            if (request.Number(name) is float value)
                (options.AdditionalProperties ??= [])[name] = value;
        options.StopSequences = ReadStop(request);
        if (request.Integer("n") is long n && n != 1)
            throw ApiException.BadRequest($"'n' must be 1: one choice per request is supported, got {n}.", "n");
        if (request.Get("logprobs") is { ValueKind: not JsonValueKind.False } logprobs && !(logprobs.ValueKind == JsonValueKind.Number && logprobs.GetDouble() == 0))
            throw ApiException.BadRequest("'logprobs' is not supported yet.", "logprobs");
        if (chat)
        {
            string? format = request.Get("response_format") is { ValueKind: JsonValueKind.Object } rf ? request.Nested(rf, "response_format.").String("type") : null;
            if (format is not (null or "text"))
                throw ApiException.BadRequest($"'response_format' {format} (constrained decoding) is not supported yet.", "response_format");
            if (request.Get("tool_choice") is { } choice && !(choice.ValueKind == JsonValueKind.String && choice.GetString() is "auto" or "none"))
                throw ApiException.BadRequest("Tool calling is not supported yet, so 'tool_choice' can only be 'auto' or 'none'.", "tool_choice");
        }
        return options;
    }

    private static List<string>? ReadStop(JsonRequest request)
    {
        switch (request.Get("stop"))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString() is { Length: > 0 } one ? [one] : null;
            case { ValueKind: JsonValueKind.Array } array:
                var stops = new List<string>();
                foreach (var item in array.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                        throw ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop");
                    if (item.GetString() is { Length: > 0 } stop)
                        stops.Add(stop);
                }
                return stops;
            default:
                throw ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop");
        }
    }

    private static (bool Stream, bool IncludeUsage) ReadStreaming(JsonRequest request)
    {
        bool stream = request.Bool("stream") ?? false;
        bool includeUsage = request.Get("stream_options") is { ValueKind: JsonValueKind.Object } so
            && (request.Nested(so, "stream_options.").Bool("include_usage") ?? false);
        return (stream, stream && includeUsage);
    }

    /// <summary>The completions prompt: a string, token ids, or a one-element array of either.</summary>
    private static (int[] Ids, string Text) ReadPrompt(JsonRequest request, ServedModel model)
    {
        int vocab = model.Engine.Model.Model.Config.VocabSize;
        var prompt = request.Get("prompt") ?? throw ApiException.BadRequest("'prompt' is required: a string or an array of token ids.", "prompt");
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind is JsonValueKind.String or JsonValueKind.Array)
            prompt = prompt[0];
        int[] ids;
        string text;
        if (prompt.ValueKind == JsonValueKind.String)
        {
            text = prompt.GetString()!;
            ids = RequireTokenizer(model).Encode(text, addSpecial: true);
        }
        else if (prompt.ValueKind == JsonValueKind.Array && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
        {
            ids = ReadIds(prompt, "prompt", vocab);
            text = model.Engine.Model.Tokenizer?.Decode(ids) ?? "";
        }
        else
            throw ApiException.BadRequest("'prompt' must be a string or an array of token ids (one prompt per request).", "prompt");
        if (ids.Length == 0)
            throw ApiException.BadRequest("'prompt' is empty.", "prompt");
        return (ids, text);
    }

    private static List<IReadOnlyList<int>> ReadEmbeddingInputs(JsonRequest request, ServedModel model)
    {
        int vocab = model.Engine.Model.Model.Config.VocabSize;
        var input = request.Get("input") ?? throw ApiException.BadRequest("'input' is required: a string, an array of strings, or token ids.", "input");
        var inputs = new List<IReadOnlyList<int>>();
        if (input.ValueKind == JsonValueKind.String)
            inputs.Add(RequireTokenizer(model).Encode(input.GetString()!, addSpecial: true));
        else if (input.ValueKind == JsonValueKind.Array && input.GetArrayLength() > 0)
        {
            if (input.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
                inputs.Add(ReadIds(input, "input", vocab));
            else
            {
                int i = 0;
                foreach (var item in input.EnumerateArray())
                {
                    string at = $"input[{i++}]";
                    inputs.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => RequireTokenizer(model).Encode(item.GetString()!, addSpecial: true),
                        JsonValueKind.Array => ReadIds(item, at, vocab),
                        _ => throw ApiException.BadRequest($"'{at}' must be a string or an array of token ids.", at),
                    });
                }
            }
        }
        else
            throw ApiException.BadRequest("'input' must be a non-empty string array, a string, or token ids.", "input");
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i].Count == 0)
                throw ApiException.BadRequest($"'input[{i}]' is empty.", $"input[{i}]");
        return inputs;
    }
}
