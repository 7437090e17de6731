using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Minnow.Chat;
using Minnow.Models;

namespace Minnow.Server;

/// <summary>How <see cref="MinnowServer"/> listens and how much work it admits.</summary>
public sealed record MinnowServerOptions
{
    /// <summary>Address to listen on: an IP address or "localhost".</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="MinnowServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, every API request must carry <c>Authorization: Bearer KEY</c> (the page and /health stay public).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Generation and embedding requests that run at once (their decodes interleave on one inference thread).</summary>
    public int MaxConcurrent { get; init; } = 16;
    /// <summary>Requests that may wait for a slot; beyond that the server answers 503 at once.</summary>
    public int Queue { get; init; } = 64;
    /// <summary>Positions each request may use (default: the model's context).</summary>
    public int? ContextLength { get; init; }
    /// <summary>The model's id in the API (default: <see cref="ModelIds.For"/>).</summary>
    public string? ModelId { get; init; }
    /// <summary>Largest request body accepted; a larger one gets 413 (bodies beyond 16 times this are cut off mid-upload).</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Where the one-line-per-request log goes (default: stderr).</summary>
    public TextWriter? Log { get; init; }

    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new InvalidInputException($"port must be between 0 and 65535, got {Port}");
        if (MaxConcurrent < 1) throw new InvalidInputException($"max concurrent requests must be at least 1, got {MaxConcurrent}");
        if (Queue < 0) throw new InvalidInputException($"queue length must be ≥ 0, got {Queue}");
        if (ContextLength is < 1) throw new InvalidInputException($"context length must be at least 1, got {ContextLength}");
        if (MaxRequestBodyBytes < 1024) throw new InvalidInputException($"max request body must be at least 1024 bytes, got {MaxRequestBodyBytes}");
        if (ApiKey is { Length: 0 }) throw new InvalidInputException("the API key is empty");
        if (Host != "localhost" && !IPAddress.TryParse(Host, out _))
            throw new InvalidInputException($"host must be an IP address or 'localhost', got '{Host}'");
    }
}

/// <summary>The model the server serves, once loaded: one engine shared by chat, completions and embeddings.</summary>
public sealed class ServedModel : IDisposable
{
    internal ServedModel(LoadedModel loaded, MinnowServerOptions options)
    {
        Engine = new InferenceEngine(loaded, options.ContextLength, ownsModel: true);
        Id = options.ModelId ?? ModelIds.For(loaded);
        Chat = new MinnowChatClient(Engine, new MinnowChatClientOptions { ModelId = Id });
        Embeddings = new MinnowEmbeddingGenerator(Engine, Id);
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public string Id { get; }
    public InferenceEngine Engine { get; }
    public MinnowChatClient Chat { get; }
    public MinnowEmbeddingGenerator Embeddings { get; }
    /// <summary>Unix time the model was loaded (the "created" of /v1/models).</summary>
    public long Created { get; }

    /// <summary>
    /// Runs a two-token reply through the whole path (format, tokenize, engine, sample, decode) before the server
    /// says it is ready, so the first client does not wait for the JIT compiler.
    /// </summary>
    internal void WarmUp()
    {
        if (Engine.Model.Tokenizer is null)
            return;
        try
        {
            Chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Hello")],
                new ChatOptions { MaxOutputTokens = 2, Temperature = 0 }).GetAwaiter().GetResult();
        }
        catch (MinnowException)
        {
            // A model whose context cannot hold even the warm-up prompt still serves what fits.
        }
    }

    public void Dispose() => Engine.Dispose();
}

/// <summary>
/// An OpenAI-compatible HTTP server over one Minnow model (ASP.NET Core minimal APIs on Kestrel). It listens
/// first and loads the model in the background: /health answers 503 until the model is ready, 200 after.
/// Endpoints: <c>/v1/models</c>, <c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/embeddings</c>,
/// <c>/tokenize</c>, <c>/detokenize</c>, <c>/health</c>, <c>/metrics</c> and a chat page at <c>/</c>.
/// </summary>
public sealed class MinnowServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServerState _state;

    private MinnowServer(WebApplication app, ServerState state, Uri address, Task ready)
    {
        _app = app;
        _state = state;
        Address = address;
        Ready = ready;
    }

    /// <summary>The address the server listens on, e.g. http://127.0.0.1:8080/.</summary>
    public Uri Address { get; }

    /// <summary>Completes when the model is loaded; faults (and the server stops) when loading fails.</summary>
    public Task Ready { get; }

    /// <summary>The served model, or null while it loads.</summary>
    public ServedModel? Model => _state.Model;

    /// <summary>Requests and generations so far (the same numbers /metrics reports).</summary>
    public ServerMetrics Metrics => _state.Metrics;

    /// <summary>Starts listening, then loads the model with <paramref name="loadModel"/> on a background thread.</summary>
    public static async Task<MinnowServer> StartAsync(MinnowServerOptions options, Func<LoadedModel> loadModel, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var log = options.Log is null ? Console.Error : TextWriter.Synchronized(options.Log);
        var state = new ServerState(options, log);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Minnow.Server", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Bodies up to 16x the limit are read and refused with a 413 the client can see; Kestrel cuts off larger ones.
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes * 16;
            if (options.Host == "localhost")
                kestrel.ListenLocalhost(options.Port);
            else
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        var app = builder.Build();
        state.Stopping = app.Lifetime.ApplicationStopping;
        app.Use(state.HandleAsync);
        Endpoints.Map(app, state);
        await app.StartAsync(cancellationToken);

        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal) + "/");
        var ready = Task.Run(() =>
        {
            try
            {
                var served = new ServedModel(loadModel(), options);
                if (served.Chat.FormatterNote is string note)
                    log.WriteLine(note);
                served.WarmUp();
                state.Model = served;
            }
            catch (Exception)
            {
                // The caller learns why from Ready; without a model the server has nothing to serve.
                _ = app.StopAsync();
                throw;
            }
        }, CancellationToken.None);
        return new MinnowServer(app, state, address, ready);
    }

    /// <summary>Completes when the server stops (Ctrl-C, <see cref="StopAsync"/>, or a failed model load).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening; running generations are cancelled and their streams closed.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            await Ready;
        }
        catch (Exception)
        {
            // A failed load was already reported; there is nothing to release.
        }
        _state.Model?.Dispose();
    }
}

/// <summary>Counts of what the server did; read by /metrics and by tests.</summary>
public sealed class ServerMetrics
{
    private long _requests, _rejected, _errors;

    public long Requests => Interlocked.Read(ref _requests);
    /// <summary>Requests refused because every slot and the queue were full (HTTP 503).</summary>
    public long RejectedBusy => Interlocked.Read(ref _rejected);
    /// <summary>Requests answered with a 4xx or 5xx error.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    internal void OnRequest() => Interlocked.Increment(ref _requests);
    internal void OnRejected() => Interlocked.Increment(ref _rejected);
    internal void OnError() => Interlocked.Increment(ref _errors);
}

/// <summary>What every endpoint shares: options, the model (once loaded), the admission gate, metrics and the log.</summary>
internal sealed class ServerState(MinnowServerOptions options, TextWriter log)
{
    private volatile ServedModel? _model;

    public MinnowServerOptions Options { get; } = options;
    public AdmissionGate Gate { get; } = new(options.MaxConcurrent, options.Queue);
    public ServerMetrics Metrics { get; } = new();
    public CancellationToken Stopping { get; set; }
    private readonly byte[]? _apiKey = options.ApiKey is null ? null : Encoding.UTF8.GetBytes(options.ApiKey);

    public ServedModel? Model
    {
        get => _model;
        set => _model = value;
    }

    /// <summary>The model, or a 503 while it is still loading.</summary>
    public ServedModel RequireModel() => _model
        ?? throw new ApiException(StatusCodes.Status503ServiceUnavailable, "unavailable_error", "Loading model", code: "model_loading");

    /// <summary>Checks a request's <c>model</c> field names the served model (absent or empty means "the one you serve").</summary>
    public void CheckModelId(string? requested)
    {
        var model = RequireModel();
        if (requested is { Length: > 0 } && requested != model.Id)
            throw new ApiException(StatusCodes.Status404NotFound, "invalid_request_error",
                $"The model '{requested}' does not exist; this server serves '{model.Id}'.", "model", "model_not_found");
    }

    /// <summary>Waits for a slot (or answers 503 when the queue is full); the lease frees the slot.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        var lease = await Gate.EnterAsync(cancellationToken);
        if (lease is not null)
            return lease;
        Metrics.OnRejected();
        throw new ApiException(StatusCodes.Status503ServiceUnavailable, "unavailable_error",
            $"The server is busy ({Gate.MaxConcurrent} requests running, {Gate.Queue} waiting); retry shortly.", code: "server_busy");
    }

    /// <summary>
    /// The middleware around every request: API-key check, one log line, and errors turned into OpenAI-shaped
    /// bodies (or an SSE error event once a stream has started).
    /// </summary>
    public async Task HandleAsync(HttpContext context, RequestDelegate next)
    {
        Metrics.OnRequest();
        var clock = Stopwatch.StartNew();
        try
        {
            if (_apiKey is not null && NeedsKey(context.Request.Path) && !HasKey(context.Request))
                throw new ApiException(StatusCodes.Status401Unauthorized, "authentication_error", "Invalid API key. Pass it as 'Authorization: Bearer KEY'.", code: "invalid_api_key");
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || Stopping.IsCancellationRequested)
        {
            context.Items[LogKey] = (context.Items[LogKey] as string) + " client-gone";
        }
        catch (Exception e)
        {
            var error = ApiException.From(e);
            if (error is null)
            {
                log.WriteLine($"error: {context.Request.Method} {context.Request.Path}: {e}");
                error = new ApiException(StatusCodes.Status500InternalServerError, "server_error", "The server failed to handle the request: " + e.Message);
            }
            if (error.Status == StatusCodes.Status503ServiceUnavailable)
                context.Response.Headers.RetryAfter = "1";
            if (!context.Response.HasStarted)
                await JsonOut.WriteErrorAsync(context.Response, error);
            else if (context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
                await new SseWriter(context.Response).WriteErrorAsync(error, context.RequestAborted);
            context.Items[LogKey] = $"{context.Items[LogKey]} error=\"{error.Message}\"";
        }
        if (context.Response.StatusCode >= 400)
            Metrics.OnError();
        log.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {context.Connection.RemoteIpAddress} {context.Request.Method} {context.Request.Path} " +
            $"{context.Response.StatusCode} {clock.Elapsed.TotalMilliseconds:F0}ms{context.Items[LogKey]}");
    }

    /// <summary>Where handlers add details (tokens, finish reason) to the request's log line, each starting with a space.</summary>
    public const string LogKey = "minnow.log";

    private static bool NeedsKey(PathString path) =>
        !(path == "/" || path == "/health" || path == "/v1/health" || path == "/favicon.ico");

    private bool HasKey(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return false;
        byte[] given = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _apiKey);
    }
}
