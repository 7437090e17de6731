using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace Minnow.Server;

/// <summary>Routes, and the endpoints that are not generation: models, health, tokenizer, metrics and the page.</summary>
internal static class Endpoints
{
    public static void Map(WebApplication app, ServerState state)
    {
        var generation = new GenerationEndpoints(state);
        app.MapGet("/", ServePage);
        app.MapGet("/health", context => Health(context, state));
        app.MapGet("/v1/health", context => Health(context, state));
        app.MapGet("/v1/models", context => Models(context, state, null));
        app.MapGet("/v1/models/{*id}", context => Models(context, state, (string?)context.Request.RouteValues["id"]));
        app.MapPost("/v1/chat/completions", generation.ChatCompletionsAsync);
        app.MapPost("/v1/completions", generation.CompletionsAsync);
        app.MapPost("/v1/embeddings", generation.EmbeddingsAsync);
        app.MapPost("/tokenize", context => TokenizeAsync(context, state));
        app.MapPost("/detokenize", context => DetokenizeAsync(context, state));
        app.MapGet("/metrics", context => Metrics(context, state));
        app.MapFallback(context => throw new ApiException(StatusCodes.Status404NotFound, "invalid_request_error",
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", code: "unknown_url"));
    }

    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Minnow.Server.index.html")
            ?? throw new InvalidOperationException("the chat page is missing from the server assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    private static Task ServePage(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.Body.WriteAsync(Page.Value).AsTask();
    }

    private static Task Health(HttpContext context, ServerState state)
    {
        state.RequireModel();
        return JsonOut.WriteAsync(context.Response, 200, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", "ok");
            json.WriteEndObject();
        });
    }

    private static Task Models(HttpContext context, ServerState state, string? id)
    {
        var model = state.RequireModel();
        if (id is not null)
            state.CheckModelId(id);
        var config = model.Engine.Model.Model.Config;
        void WriteModel(Utf8JsonWriter json)
        {
            json.WriteStartObject();
            json.WriteString("id", model.Id);
            json.WriteString("object", "model");
            json.WriteNumber("created", model.Created);
            json.WriteString("owned_by", "minnow");
            json.WriteStartObject("meta");
            json.WriteString("format", model.Engine.Model.Format);
            json.WriteNumber("n_vocab", config.VocabSize);
            json.WriteNumber("n_ctx", model.Engine.ContextLength);
            json.WriteNumber("n_ctx_train", config.ContextLength);
            json.WriteNumber("n_embd", config.Dim);
            json.WriteNumber("n_params", model.Engine.Model.Model.ParameterCount);
            json.WriteString("chat_format", model.Chat.Formatter.Name);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return JsonOut.WriteAsync(context.Response, 200, json =>
        {
            if (id is not null)
            {
                WriteModel(json);
                return;
            }
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            WriteModel(json);
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary>llama.cpp's <c>POST /tokenize</c>: <c>{"content", "add_special", "parse_special", "with_pieces"}</c> → <c>{"tokens": [...]}</c>.</summary>
    private static async Task TokenizeAsync(HttpContext context, ServerState state)
    {
        var model = state.RequireModel();
        var (document, request) = await JsonRequest.ReadAsync(context.Request, state.Options.MaxRequestBodyBytes, context.RequestAborted);
        using var _ = document;
        string content = request.String("content") ?? throw ApiException.BadRequest("'content' is required: the text to tokenize.", "content");
        var tokenizer = GenerationEndpoints.RequireTokenizer(model);
        int[] ids = tokenizer.Encode(content, request.Bool("add_special") ?? false, request.Bool("parse_special"));
        bool pieces = request.Bool("with_pieces") ?? false;
        await JsonOut.WriteAsync(context.Response, 200, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("tokens");
            foreach (int id in ids)
                if (pieces)
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", id);
                    json.WriteString("piece", tokenizer.Decode([id]));
                    json.WriteEndObject();
                }
                else
                    json.WriteNumberValue(id);
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary>llama.cpp's <c>POST /detokenize</c>: <c>{"tokens": [...]}</c> → <c>{"content"}</c>.</summary>
    private static async Task DetokenizeAsync(HttpContext context, ServerState state)
    {
        var model = state.RequireModel();
        var (document, request) = await JsonRequest.ReadAsync(context.Request, state.Options.MaxRequestBodyBytes, context.RequestAborted);
        using var _ = document;
        if (request.Get("tokens") is not { ValueKind: JsonValueKind.Array } array)
            throw ApiException.BadRequest("'tokens' is required: an array of token ids.", "tokens");
        int[] ids = GenerationEndpoints.ReadIds(array, "tokens", model.Engine.Model.Model.Config.VocabSize);
        string text = GenerationEndpoints.RequireTokenizer(model).Decode(ids);
        await JsonOut.WriteAsync(context.Response, 200, json =>
        {
            json.WriteStartObject();
            json.WriteString("content", text);
            json.WriteEndObject();
        });
    }

    /// <summary>Prometheus text: request and generation counters, including generations cancelled by disconnecting clients.</summary>
    private static Task Metrics(HttpContext context, ServerState state)
    {
        var text = new StringBuilder();
        void Metric(string name, string type, string help, double value)
        {
            text.Append("# HELP minnow_").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE minnow_").Append(name).Append(' ').Append(type).Append('\n');
            text.Append("minnow_").Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        var m = state.Metrics;
        Metric("requests_total", "counter", "HTTP requests received.", m.Requests);
        Metric("requests_rejected_busy_total", "counter", "Requests refused with 503 because every slot and the queue were full.", m.RejectedBusy);
        Metric("request_errors_total", "counter", "Requests answered with an HTTP error.", m.Errors);
        Metric("requests_running", "gauge", "Generation and embedding requests holding a slot.", state.Gate.Running);
        Metric("requests_waiting", "gauge", "Requests waiting for a slot.", state.Gate.Waiting);
        if (state.Model is { } model)
        {
            var c = model.Engine.Counters;
            Metric("generations_started_total", "counter", "Generations admitted to the inference engine.", c.GenerationsStarted);
            Metric("generations_completed_total", "counter", "Generations that ran to their end.", c.GenerationsCompleted);
            Metric("generations_cancelled_total", "counter", "Generations stopped early because the client disconnected or cancelled.", c.GenerationsCancelled);
            Metric("generations_failed_total", "counter", "Generations that ended with an error.", c.GenerationsFailed);
            Metric("generations_active", "gauge", "Generations decoding now.", c.ActiveGenerations);
            Metric("tokens_generated_total", "counter", "Tokens generated.", c.TokensGenerated);
        }
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }
}
