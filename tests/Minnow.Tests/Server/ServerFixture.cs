using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Minnow.Chat;
using Minnow.Models;
using Minnow.Server;
using Minnow.Tests.Chat;
using OpenAI;

namespace Minnow.Tests.Server;

/// <summary>
/// The real server, in-process on a free 127.0.0.1 port, over the chat test model; plus an in-process
/// <see cref="MinnowChatClient"/> over a second copy of the same model, to compare HTTP replies with.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public MinnowServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public OpenAIClient OpenAI { get; private set; } = null!;
    public MinnowChatClient Local { get; private set; } = null!;
    public StringWriter Log { get; } = new();

    public string ModelId => "chat-test";

    public async Task InitializeAsync()
    {
        Server = await StartAsync(new MinnowServerOptions { Port = 0, Log = Log });
        await Server.Ready;
        Http = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromMinutes(2) };
        OpenAI = Client(Server, "no-key-needed");
        Local = new MinnowChatClient(ChatTestModel.Load(), ownsModel: true);
    }

    public static Task<MinnowServer> StartAsync(MinnowServerOptions options, Func<LoadedModel>? load = null) =>
        MinnowServer.StartAsync(options with { Port = 0, Log = options.Log ?? TextWriter.Null }, load ?? DefaultLoad);

    private static LoadedModel DefaultLoad() => ChatTestModel.Load();

    public static OpenAIClient Client(MinnowServer server, string key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

    public async Task DisposeAsync()
    {
        Local.Dispose();
        Http.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>POSTs a JSON body (a string is sent verbatim) and returns the status and the parsed JSON reply.</summary>
    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object body)
    {
        using HttpContent content = body is string raw ? new StringContent(raw, Encoding.UTF8, "application/json") : JsonContent.Create(body);
        using var response = await Http.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Reads an SSE body into its JSON events, checking it ends with data: [DONE].</summary>
    public static async Task<List<JsonElement>> ReadEventsAsync(HttpResponseMessage response)
    {
        var events = new List<JsonElement>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        bool done = false;
        while (await reader.ReadLineAsync() is string line)
        {
            if (line.Length == 0)
                continue;
            Assert.StartsWith("data: ", line);
            Assert.False(done, "an event after [DONE]");
            if (line == "data: [DONE]")
                done = true;
            else
                events.Add(JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
        }
        Assert.True(done, "the stream did not end with data: [DONE]");
        return events;
    }
}
