using System.Text.Json;
using Microsoft.Extensions.AI;
using Minnow.Generation;

namespace Minnow.Server;

/// <summary>One response's identity, and its finish reason and usage once known; writes the OpenAI objects.</summary>
internal sealed class OpenAIReply(string model, string idPrefix, string objectName, bool includeUsage)
{
    private readonly string _id = idPrefix + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private long _promptTokens, _completionTokens;

    public string FinishReason { get; private set; } = "stop";

    /// <summary>Takes a chat update's text, and its usage and finish reason when it is the last one.</summary>
    public string Absorb(ChatResponseUpdate update)
    {
        if (update.FinishReason is { } reason)
            FinishReason = reason.Value;
        foreach (var content in update.Contents)
            if (content is UsageContent usage)
            {
                _promptTokens = usage.Details.InputTokenCount ?? 0;
                _completionTokens = usage.Details.OutputTokenCount ?? 0;
            }
        return update.Text;
    }

    public void Finish(GenerationStats stats)
    {
        FinishReason = stats.FinishReason == Generation.FinishReason.Stop ? "stop" : "length";
        _promptTokens = stats.PromptTokens;
        _completionTokens = stats.GeneratedTokens;
    }

    public string LogDetails(bool stream) =>
        $" prompt={_promptTokens} completion={_completionTokens} finish={FinishReason}{(stream ? " stream" : "")}";

    private void WriteHeader(Utf8JsonWriter json, string name)
    {
        json.WriteString("id", _id);
        json.WriteString("object", name);
        json.WriteNumber("created", _created);
        json.WriteString("model", model);
        json.WriteNull("system_fingerprint");
    }

    private void WriteUsage(Utf8JsonWriter json) => JsonOut.WriteUsage(json, _promptTokens, _completionTokens);

    public void WriteChatCompletion(Utf8JsonWriter json, string text)
    {
        json.WriteStartObject();
        WriteHeader(json, objectName);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", text);
        json.WriteNull("refusal");
        json.WriteEndObject();
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", FinishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json);
        json.WriteEndObject();
    }

    public void WriteChatChunk(Utf8JsonWriter json, string text, bool role = false) =>
        WriteChunk(json, delta =>
        {
            if (role)
                delta.WriteString("role", "assistant");
            delta.WriteString("content", text);
        }, null);

    public void WriteChatFinish(Utf8JsonWriter json) => WriteChunk(json, _ => { }, FinishReason);

    private void WriteChunk(Utf8JsonWriter json, Action<Utf8JsonWriter> delta, string? finish)
    {
        json.WriteStartObject();
        WriteHeader(json, objectName + ".chunk");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        delta(json);
        json.WriteEndObject();
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", finish);
        json.WriteEndObject();
        json.WriteEndArray();
        if (includeUsage)
            json.WriteNull("usage");
        json.WriteEndObject();
    }

    /// <summary>The extra last chunk of <c>stream_options.include_usage</c>: no choices, the usage.</summary>
    public void WriteUsageChunk(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        WriteHeader(json, objectName == "chat.completion" ? "chat.completion.chunk" : objectName);
        json.WriteStartArray("choices");
        json.WriteEndArray();
        WriteUsage(json);
        json.WriteEndObject();
    }

    public void WriteTextCompletion(Utf8JsonWriter json, string text)
    {
        json.WriteStartObject();
        WriteHeader(json, objectName);
        json.WriteStartArray("choices");
        WriteTextChoice(json, text, FinishReason);
        json.WriteEndArray();
        WriteUsage(json);
        json.WriteEndObject();
    }

    public void WriteTextChunk(Utf8JsonWriter json, string text, string? finish)
    {
        json.WriteStartObject();
        WriteHeader(json, objectName);
        json.WriteStartArray("choices");
        WriteTextChoice(json, text, finish);
        json.WriteEndArray();
        if (includeUsage)
            json.WriteNull("usage");
        json.WriteEndObject();
    }

    private static void WriteTextChoice(Utf8JsonWriter json, string text, string? finish)
    {
        json.WriteStartObject();
        json.WriteString("text", text);
        json.WriteNumber("index", 0);
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", finish);
        json.WriteEndObject();
    }
}
