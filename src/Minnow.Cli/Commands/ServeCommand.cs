using System.CommandLine;
using Minnow.Server;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow serve</c>: an OpenAI-compatible HTTP server (and a chat page at /) over one model, until Ctrl-C.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new MinnowServerOptions();
        var model = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var host = new Option<string>("--host") { Description = "Address to listen on: an IP address or 'localhost' (0.0.0.0 listens on every interface).", DefaultValueFactory = _ => defaults.Host, HelpName = "ADDRESS" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one).", DefaultValueFactory = _ => defaults.Port, HelpName = "PORT" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on API requests (default: none; MINNOW_API_KEY also sets it).", HelpName = "KEY" };
        var maxConcurrent = new Option<int>("--max-concurrent") { Description = "Generation requests that run at once; their decodes interleave.", DefaultValueFactory = _ => defaults.MaxConcurrent, HelpName = "N" };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; beyond that the server answers 503.", DefaultValueFactory = _ => defaults.Queue, HelpName = "N" };
        var context = new Option<int?>("--context") { Description = "Positions each request may use, prompt included (default: the model's context).", HelpName = "N" };
        var modelId = new Option<string?>("--model-id") { Description = "The model's name in the API (default: the model file's name, or minnow-default).", HelpName = "NAME" };
        var json = Cli.JsonOption();
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API, with a chat page at /.")
        {
            model, tokenizer, threads, kvCache, noRepack, host, port, apiKey, maxConcurrent, queue, context, modelId, json,
        };
        command.SetAction((parse, cancellationToken) => Cli.RunAsync(async () =>
        {
            var options = new MinnowServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable("MINNOW_API_KEY") is { Length: > 0 } key ? key : null),
                MaxConcurrent = parse.GetValue(maxConcurrent),
                Queue = parse.GetValue(queue),
                ContextLength = parse.GetValue(context),
                ModelId = parse.GetValue(modelId),
            };
            string? modelPath = parse.GetValue(model), tokenizerPath = parse.GetValue(tokenizer);
            int threadCount = parse.GetValue(threads);
            string? kvCacheType = parse.GetValue(kvCache);
            await using var server = await MinnowServer.StartAsync(options, () => Cli.LoadModel(modelPath, tokenizerPath, threadCount, kvCacheType, parse.GetValue(noRepack)), cancellationToken);
            Console.Error.WriteLine($"listening on {server.Address} (loading the model…)");
            try
            {
                await server.Ready.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return 130;
            }
            var served = server.Model!;
            Console.Error.WriteLine($"ready: serving '{served.Id}' (context {served.Engine.ContextLength}, KV cache {kvCacheType}, up to {options.MaxConcurrent} at once + {options.Queue} queued) at {server.Address} — chat page at {server.Address}, API at {server.Address}v1");
            if (parse.GetValue(json))
            {
                Cli.WriteJson(new { Url = server.Address.ToString(), ModelId = served.Id, ContextLength = served.Engine.ContextLength });
                Console.Out.Flush();
            }
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("stopping");
            }
            return 0;
        }));
        return command;
    }
}
