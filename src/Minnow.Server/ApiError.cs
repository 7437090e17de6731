using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Minnow.Server;

/// <summary>
/// A request the server refuses, reported as OpenAI does: HTTP <see cref="Status"/> with
/// <c>{"error": {"message", "type", "param", "code"}}</c>.
/// </summary>
public sealed class ApiException(int status, string type, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    /// <summary>OpenAI's error type: invalid_request_error, authentication_error, not_found_error, unavailable_error, server_error.</summary>
    public string Type { get; } = type;
    /// <summary>The request field at fault, e.g. "messages[0].content" (null when not one field).</summary>
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", message, param, code);

    /// <summary>Maps what the library and the framework throw onto HTTP errors; null for a genuine server fault.</summary>
    public static ApiException? From(Exception e) => e switch
    {
        ApiException api => api,
        ContextLengthException c => BadRequest($"This model's maximum context length is {c.Limit} tokens, but the request needs {c.Requested}. Shorten the messages or the prompt.",
            param: null, code: "context_length_exceeded"),
        MinnowException or NotSupportedException => BadRequest(e.Message),
        JsonException => BadRequest($"The request body is not valid JSON: {e.Message}"),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "The request body is too large.", code: "request_too_large"),
        BadHttpRequestException bad => new(bad.StatusCode, "invalid_request_error", bad.Message),
        _ => null,
    };

    /// <summary>Writes the error object (the value of the envelope's "error" key).</summary>
    public void WriteBody(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("message", Message);
        json.WriteString("type", Type);
        json.WriteString("param", Param);
        json.WriteString("code", Code);
        json.WriteEndObject();
    }
}
