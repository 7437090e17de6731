using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Minnow.Server;

/// <summary>Writes JSON responses and server-sent events with <see cref="Utf8JsonWriter"/>, so every field's name and shape is explicit.</summary>
internal static class JsonOut
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, Options))
            write(json);
        return buffer.WrittenSpan.ToArray();
    }

    public static async Task WriteAsync(HttpResponse response, int status, Action<Utf8JsonWriter> write, CancellationToken cancellationToken = default)
    {
        byte[] body = Serialize(write);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, cancellationToken);
    }

    public static Task WriteErrorAsync(HttpResponse response, ApiException error) =>
        WriteAsync(response, error.Status, json =>
        {
            json.WriteStartObject();
            json.WritePropertyName("error");
            error.WriteBody(json);
            json.WriteEndObject();
        });

    public static void WriteUsage(Utf8JsonWriter json, long prompt, long completion)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", prompt);
        json.WriteNumber("completion_tokens", completion);
        json.WriteNumber("total_tokens", prompt + completion);
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("cached_tokens", 0);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}

/// <summary>
/// A server-sent event stream as OpenAI's streaming endpoints send it: <c>data: {json}</c> and a blank line per
/// event, flushed at once, ended by <c>data: [DONE]</c>.
/// </summary>
internal sealed class SseWriter(HttpResponse response)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public bool Started => response.HasStarted;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(cancellationToken);
    }

    public async Task WriteAsync(Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var body = response.BodyWriter;
        body.Write(DataPrefix);
        body.Write(JsonOut.Serialize(write));
        body.Write(EventEnd);
        await body.FlushAsync(cancellationToken);
    }

    public Task WriteErrorAsync(ApiException error, CancellationToken cancellationToken) =>
        WriteAsync(json =>
        {
            json.WriteStartObject();
            json.WritePropertyName("error");
            error.WriteBody(json);
            json.WriteEndObject();
        }, cancellationToken);

    public async Task DoneAsync(CancellationToken cancellationToken)
    {
        response.BodyWriter.Write(Done);
        await response.BodyWriter.FlushAsync(cancellationToken);
    }
}
