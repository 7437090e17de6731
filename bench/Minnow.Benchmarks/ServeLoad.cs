using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Minnow.Models;
using Minnow.Server;

namespace Minnow.Benchmarks;

/// <summary>
/// <c>serve-load</c>: load on the OpenAI-compatible server. For each client count (default 1, 4, 16), that many
/// clients each send <c>--requests</c> streaming chat completions one after another; reported are the total
/// generated tokens per second over the level's wall time, and the p50/p99 time to the first content token.
/// Without <c>--url</c> it starts the server in-process on Minnow's default model (client and server then share
/// the machine's cores, as they would on one box).
/// <c>decode-batch</c>: what batching concurrent decodes could gain, bounded from above by the cost of 16 one-token
/// forward passes against one 16-token pass of the same model.
/// </summary>
public static class ServeLoad
{
    public static int Run(string[] args)
    {
        string? url = Arg(args, "--url");
        int[] clientCounts = (Arg(args, "--clients") ?? "1,4,16").Split(',').Select(int.Parse).ToArray();
        int requests = int.Parse(Arg(args, "--requests") ?? "4");
        int maxTokens = int.Parse(Arg(args, "--max-tokens") ?? "64");
        int threads = int.Parse(Arg(args, "--threads") ?? Environment.ProcessorCount.ToString());
        bool json = args.Contains("--json");
        return RunAsync(url, clientCounts, requests, maxTokens, threads, json).GetAwaiter().GetResult();
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static async Task<int> RunAsync(string? url, int[] clientCounts, int requests, int maxTokens, int threads, bool json)
    {
        MinnowServer? server = null;
        if (url is null)
        {
            server = await MinnowServer.StartAsync(new MinnowServerOptions { Port = 0, Log = TextWriter.Null, MaxConcurrent = clientCounts.Max() },
                () => ModelLoader.Load(DefaultModel.Locate(), new ModelLoadOptions { Threads = threads }));
            await server.Ready;
            url = server.Address.ToString();
        }
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(10) };
        Console.Error.WriteLine($"serve-load against {url}: {requests} streaming requests per client, max_tokens {maxTokens}, temperature 0.8");

        // Warm-up (JIT tiers, first allocations), so the first level is not measuring the compiler.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async c =>
        {
            for (int r = 0; r < 4; r++)
                await OneRequest(http, 100 + c, r, maxTokens);
        }));
        if (!json)
            Console.WriteLine($"{"clients",8} {"requests",9} {"tokens",8} {"seconds",8} {"tokens/s",9} {"ttft p50 ms",12} {"ttft p99 ms",12}");
        foreach (int clients in clientCounts)
        {
            var clock = Stopwatch.StartNew();
            var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
            {
                var mine = new List<(double Ttft, int Tokens)>();
                for (int r = 0; r < requests; r++)
                    mine.Add(await OneRequest(http, c, r, maxTokens));
                return mine;
            }));
            double seconds = clock.Elapsed.TotalSeconds;
            var all = results.SelectMany(r => r).ToList();
            var ttft = all.Select(r => r.Ttft).Order().ToArray();
            long tokens = all.Sum(r => r.Tokens);
            double p50 = Percentile(ttft, 0.50), p99 = Percentile(ttft, 0.99);
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new { clients, requests = all.Count, tokens, seconds, tokens_per_second = tokens / seconds, ttft_p50_ms = p50, ttft_p99_ms = p99 }));
            else
                Console.WriteLine($"{clients,8} {all.Count,9} {tokens,8} {seconds,8:F2} {tokens / seconds,9:F1} {p50,12:F1} {p99,12:F1}");
        }
        if (server is not null)
            await server.DisposeAsync();
        return 0;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>One streaming chat request; returns the time to its first content delta (ms) and its completion tokens.</summary>
    private static async Task<(double Ttft, int Tokens)> OneRequest(HttpClient http, int client, int request, int maxTokens)
    {
        var body = new
        {
            messages = new[] { new { role = "user", content = $"Client {client}, request {request}: tell me about rivers." } },
            max_tokens = maxTokens,
            temperature = 0.8,
            seed = client * 1000 + request,
            stream = true,
            stream_options = new { include_usage = true },
        };
        var clock = Stopwatch.StartNew();
        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double ttft = double.NaN;
        int tokens = 0;
        while (await reader.ReadLineAsync() is string line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
                continue;
            var chunk = JsonDocument.Parse(line["data: ".Length..]).RootElement;
            if (double.IsNaN(ttft) && chunk.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 })
                ttft = clock.Elapsed.TotalMilliseconds;
            if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                tokens = usage.GetProperty("completion_tokens").GetInt32();
        }
        return (double.IsNaN(ttft) ? clock.Elapsed.TotalMilliseconds : ttft, tokens);
    }

    /// <summary>16 one-token forward passes (16 sequences decoding one step each, as the engine does now) against one 16-token pass.</summary>
    public static int DecodeBatch(string[] args)
    {
        int threads = int.Parse(Arg(args, "--threads") ?? Environment.ProcessorCount.ToString());
        int batch = int.Parse(Arg(args, "--batch") ?? "16");
        using var loaded = ModelLoader.Load(DefaultModel.Locate(), new ModelLoadOptions { Threads = threads });
        var model = loaded.Model;
        var logits = new float[model.Config.VocabSize * batch];
        var tokens = Enumerable.Range(0, batch).Select(i => 3 + i).ToArray();
        const int Context = 64; // positions already in each cache, as in a short chat
        var prefix = Enumerable.Range(0, Context).Select(i => 3 + i % 200).ToArray();

        InferenceState Prefilled()
        {
            var state = model.CreateState();
            model.Forward(state, prefix, logits);
            return state;
        }
        var states = Enumerable.Range(0, batch).Select(_ => Prefilled()).ToArray();
        var single = Prefilled();
        double Time(Action step, int repeats)
        {
            var samples = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                step();
                samples.Add(clock.Elapsed.TotalMilliseconds);
            }
            samples.Sort();
            return samples[samples.Count / 2];
        }
        double separate = 0, together = 0;
        for (int round = 0; round < 3; round++) // the last round's medians count; earlier ones warm up the JIT
        {
            separate = Time(() =>
            {
                foreach (var state in states)
                {
                    model.Forward(state, [tokens[0]], logits);
                    state.Rewind(Context);
                }
            }, 50);
            together = Time(() =>
            {
                model.Forward(single, tokens, logits, allPositions: true);
                single.Rewind(Context);
            }, 50);
        }
        // Would batching change the numbers? The same tokens fed one at a time and as one chunk.
        var oneByOne = new float[model.Config.VocabSize * batch];
        var chunked = new float[model.Config.VocabSize * batch];
        var a = Prefilled();
        for (int i = 0; i < batch; i++)
            model.Forward(a, [tokens[i]], oneByOne.AsSpan(i * model.Config.VocabSize, model.Config.VocabSize));
        model.Forward(Prefilled(), tokens, chunked, allPositions: true);
        float maxDifference = 0;
        for (int i = 0; i < chunked.Length; i++)
            maxDifference = Math.Max(maxDifference, Math.Abs(chunked[i] - oneByOne[i]));
        Console.WriteLine($"{batch} sequences x 1 token: {separate:F3} ms; 1 sequence x {batch} tokens: {together:F3} ms; ratio {separate / together:F2} " +
            $"(an upper bound on what batching {batch} concurrent decodes could save in the matrix products; threads {threads}); " +
            $"max |logit difference| chunked vs one at a time: {maxDifference:G3}");
        return 0;
    }
}
