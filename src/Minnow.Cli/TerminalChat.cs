using System.Text;
using Microsoft.Extensions.AI;

namespace Minnow.Cli;

/// <summary>
/// The conversation loop of <c>minnow chat</c>, over any <see cref="IChatClient"/>: reads lines, streams replies,
/// keeps the history and obeys <c>/reset</c>, <c>/system TEXT</c>, <c>/help</c> and <c>/exit</c>.
/// <see cref="Interrupt"/> (Ctrl-C) stops the reply being written; at the prompt, a first interrupt only says how
/// to quit and a second one is left to end the program. When the conversation outgrows the model's context, the
/// oldest turns are dropped (the system prompt is kept) and the user is told so.
/// </summary>
public sealed class TerminalChat(IChatClient client, ChatOptions options, TextReader input, TextWriter output, TextWriter status, bool json)
{
    private readonly List<ChatMessage> _history = [];
    private string? _system;
    private CancellationTokenSource? _reply;
    private int _interruptsAtPrompt;

    /// <summary>Show "> " before each line (for a person at a terminal, not for piped input).</summary>
    public bool ShowPrompt { get; init; }

    /// <summary>The system prompt (null: none); <c>/system</c> changes it.</summary>
    public string? SystemPrompt
    {
        get => _system;
        init => _system = value is { Length: > 0 } ? value : null;
    }

    /// <summary>The conversation so far (user and assistant turns).</summary>
    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>Ctrl-C: stops the current reply and returns true; at the prompt, true the first time (a hint is shown) and false the second (let the program end).</summary>
    public bool Interrupt()
    {
        if (Volatile.Read(ref _reply) is { } reply)
        {
            reply.Cancel();
            return true;
        }
        if (Interlocked.Increment(ref _interruptsAtPrompt) >= 2)
            return false;
        status.WriteLine();
        status.WriteLine("(Ctrl-C again, or /exit, to quit)");
        if (ShowPrompt)
        {
            output.Write("> ");
            output.Flush();
        }
        return true;
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (ShowPrompt)
            {
                output.Write("> ");
                output.Flush();
            }
            string? line = await input.ReadLineAsync(cancellationToken);
            if (line is null)
                break;
            Interlocked.Exchange(ref _interruptsAtPrompt, 0);
            line = line.TrimEnd('\r');
            if (line.Trim().Length == 0)
                continue;
            if (line.StartsWith('/') && !line.StartsWith("//", StringComparison.Ordinal))
            {
                if (!Command(line.Trim()))
                    break;
                continue;
            }
            _history.Add(new ChatMessage(ChatRole.User, line.StartsWith("//", StringComparison.Ordinal) ? line[1..] : line));
            await ReplyAsync(cancellationToken);
        }
        return 0;
    }

    /// <summary>Runs a slash command; false for /exit.</summary>
    private bool Command(string line)
    {
        int space = line.IndexOf(' ');
        string name = space < 0 ? line : line[..space];
        string argument = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (name)
        {
            case "/exit" or "/quit":
                return false;
            case "/reset":
                _history.Clear();
                status.WriteLine("(conversation cleared)");
                return true;
            case "/system":
                _system = argument.Length > 0 ? argument : null;
                status.WriteLine(_system is null ? "(system prompt removed)" : "(system prompt set)");
                return true;
            case "/help":
                status.WriteLine("/reset clears the conversation, /system TEXT sets the system prompt (/system alone removes it), /exit quits; " +
                    "Ctrl-C stops a reply; start a message with // to send a line beginning with /");
                return true;
            default:
                status.WriteLine($"unknown command {name}: try /help");
                return true;
        }
    }

    private IEnumerable<ChatMessage> Conversation() =>
        _system is null ? _history : _history.Prepend(new ChatMessage(ChatRole.System, _system));

    private async Task ReplyAsync(CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        bool stopped = false;
        using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Volatile.Write(ref _reply, reply);
        try
        {
            while (true)
            {
                try
                {
                    await foreach (var update in client.GetStreamingResponseAsync(Conversation(), options, reply.Token))
                    {
                        finish ??= update.FinishReason;
                        foreach (var content in update.Contents)
                            if (content is UsageContent u)
                                usage = u.Details;
                        if (update.Text.Length == 0)
                            continue;
                        text.Append(update.Text);
                        if (!json)
                        {
                            output.Write(Cli.Printable(update.Text));
                            output.Flush();
                        }
                    }
                    break;
                }
                catch (ContextLengthException) when (text.Length == 0 && _history.Count > 1)
                {
                    // Forget the oldest exchange (a user turn and the reply to it) and try again.
                    _history.RemoveRange(0, Math.Min(2, _history.Count - 1));
                    status.WriteLine("(the conversation outgrew the model's context: the oldest turn was forgotten)");
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            stopped = true;
        }
        catch (Exception e) when (e is MinnowException or NotSupportedException)
        {
            status.WriteLine($"error: {e.Message}");
            _history.RemoveAt(_history.Count - 1);
            return;
        }
        finally
        {
            Volatile.Write(ref _reply, null);
        }

        _history.Add(new ChatMessage(ChatRole.Assistant, text.ToString()));
        if (json)
            Cli.WriteJson(new
            {
                Content = text.ToString(),
                FinishReason = stopped ? "cancelled" : finish?.Value,
                PromptTokens = usage?.InputTokenCount,
                CompletionTokens = usage?.OutputTokenCount,
            });
        else
        {
            output.WriteLine();
            if (stopped)
                status.WriteLine("(stopped)");
        }
    }
}
