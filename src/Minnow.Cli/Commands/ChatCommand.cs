using System.CommandLine;
using Microsoft.Extensions.AI;
using Minnow.Chat;
using Minnow.Generation;

namespace Minnow.Cli.Commands;

/// <summary><c>minnow chat</c>: an interactive conversation in the terminal (or over piped stdin), streaming replies.</summary>
public static class ChatCommand
{
    public const string Name = "chat";

    public static Command Create()
    {
        var defaults = new SamplingOptions();
        var model = Cli.ModelOption();
        var tokenizer = Cli.TokenizerOption();
        var threads = Cli.ThreadsOption();
        var kvCache = Cli.KvCacheOption();
        var noRepack = Cli.NoRepackOption();
        var system = new Option<string?>("--system") { Description = "System prompt (change it during the chat with /system TEXT).", HelpName = "TEXT" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "New tokens per reply at most.", DefaultValueFactory = _ => 256, HelpName = "N" };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 means greedy.", DefaultValueFactory = _ => defaults.Temperature, HelpName = "T" };
        var topK = new Option<int>("--top-k") { Description = "Sample only among the K most likely tokens (0 = off).", DefaultValueFactory = _ => defaults.TopK, HelpName = "K" };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling threshold (1 = off).", DefaultValueFactory = _ => defaults.TopP, HelpName = "P" };
        var seed = new Option<long?>("--seed", "-s") { Description = "Seed for sampling (default: random); each reply uses it anew.", HelpName = "S" };
        var json = new Option<bool>("--json") { Description = "Write each reply as one JSON line {content, finish_reason, prompt_tokens, completion_tokens} instead of streaming text." };
        var command = new Command(Name, "Chat with a model in the terminal: /reset, /system TEXT, /exit; Ctrl-C stops a reply.")
        {
            model, tokenizer, threads, kvCache, noRepack, system, maxTokens, temperature, topK, topP, seed, json,
        };
        command.SetAction((parse, cancellationToken) => Cli.RunAsync(async () =>
        {
            int max = parse.GetValue(maxTokens);
            if (max < 1)
                throw new InvalidInputException($"--max-tokens must be at least 1, got {max}");
            var options = new ChatOptions
            {
                MaxOutputTokens = max,
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
            };
            using var loaded = Cli.LoadModel(parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(threads), parse.GetValue(kvCache), parse.GetValue(noRepack));
            using var client = new MinnowChatClient(loaded);
            if (client.FormatterNote is string note)
                Console.Error.WriteLine(note);
            bool interactive = !Console.IsInputRedirected;
            var chat = new TerminalChat(client, options, Console.In, Console.Out, Console.Error, parse.GetValue(json))
            {
                ShowPrompt = interactive && !Console.IsOutputRedirected,
                SystemPrompt = parse.GetValue(system),
            };
            if (interactive)
                Console.Error.WriteLine($"chatting with {client.ModelId}: /help for commands, Ctrl-C stops a reply, /exit quits");
            // System.CommandLine leaves Ctrl-C to this command (see Program): it stops the reply, not the program.
            ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = chat.Interrupt();
            Console.CancelKeyPress += onCancel;
            try
            {
                return await chat.RunAsync(cancellationToken);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }));
        return command;
    }
}
