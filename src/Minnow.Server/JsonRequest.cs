using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Minnow.Server;

/// <summary>
/// Typed reads of a JSON request object. A missing field and an explicit null both mean "not given" (clients send
/// either); a value of the wrong type is a 400 naming the field. Unknown fields are ignored, as OpenAI's clients
/// and proxies add their own.
/// </summary>
internal readonly struct JsonRequest(JsonElement root, string prefix = "")
{
    public JsonElement Root { get; } = root;

    /// <summary>
    /// Reads and parses the request body. A body over <paramref name="limit"/> bytes is read to its end and
    /// discarded before the 413, so a client still sending it receives the error instead of a broken connection
    /// (Kestrel's own, larger limit cuts off anything beyond that).
    /// </summary>
    public static async Task<(JsonDocument Document, JsonRequest Request)> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            bool tooLarge = request.ContentLength > limit;
            int n;
            while ((n = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                tooLarge |= body.Length + n > limit;
                if (!tooLarge)
                    body.Write(chunk, 0, n);
            }
            if (tooLarge)
                throw new ApiException(StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
                    $"The request body is larger than this server's limit of {limit} bytes.", code: "request_too_large");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        var document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length), new JsonDocumentOptions { MaxDepth = 64 });
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        return (document, new JsonRequest(document.RootElement));
    }

    public string Name(string field) => prefix + field;

    public JsonElement? Get(string field) =>
        Root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string? String(string field) => Get(field) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw Wrong(field, "a string"),
    };

    public bool? Bool(string field) => Get(field) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw Wrong(field, "true or false"),
    };

    public float? Number(string field) => Get(field) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetDouble(out double d) && double.IsFinite(d) && Math.Abs(d) <= float.MaxValue => (float)d,
        _ => throw Wrong(field, "a number"),
    };

    /// <summary>An integer (1e9 and 5.0 count; 2.5 does not).</summary>
    public long? Integer(string field)
    {
        if (Get(field) is not JsonElement v)
            return null;
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt64(out long l))
                return l;
            if (v.TryGetDouble(out double d) && Math.Floor(d) == d && Math.Abs(d) < 9e18)
                return (long)d;
        }
        throw Wrong(field, "an integer");
    }

    public ApiException Wrong(string field, string expected) =>
        ApiException.BadRequest($"'{Name(field)}' must be {expected}.", Name(field));

    public JsonRequest Nested(JsonElement element, string path) => new(element, prefix + path);
}
