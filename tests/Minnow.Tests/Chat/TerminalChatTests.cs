using System.Text.Json;
using Microsoft.Extensions.AI;
using Minnow.Chat;
using Minnow.Cli;
using Minnow.Tests.Cli;

namespace Minnow.Tests.Chat;

/// <summary>`minnow chat`: the conversation loop in-process, and the command with piped stdin.</summary>
public class TerminalChatTests
{
    private static ChatOptions Greedy(int max) => new() { Temperature = 0, MaxOutputTokens = max };

    [Fact]
    public async Task PipedChatKeepsHistoryObeysCommandsAndMatchesTheChatClient()
    {
        string input = "Hello\n/system Be brief.\nWhat is a fish?\n/reset\n/bogus\n//slash\n/exit\nnot read\n";
        var r = CliRunner.Run(["chat", "--model", ChatTestModel.FilePath, "--temperature", "0", "-n", "20", "--json"], input);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var replies = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(3, replies.Length);
        Assert.All(replies, reply => Assert.Equal(20, reply.GetProperty("completion_tokens").GetInt32()));
        Assert.Contains("(system prompt set)", r.Stderr);
        Assert.Contains("(conversation cleared)", r.Stderr);
        Assert.Contains("unknown command /bogus", r.Stderr);
        Assert.Contains(ChatFormatters.PlainFallbackNote, r.Stderr);

        // The same conversation through MinnowChatClient gives the same greedy replies.
        using var client = new MinnowChatClient(ChatTestModel.Load(), ownsModel: true);
        string first = (await client.GetResponseAsync([new(ChatRole.User, "Hello")], Greedy(20))).Text;
        Assert.Equal(first, replies[0].GetProperty("content").GetString());
        string second = (await client.GetResponseAsync(
            [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello"), new(ChatRole.Assistant, first), new(ChatRole.User, "What is a fish?")], Greedy(20))).Text;
        Assert.Equal(second, replies[1].GetProperty("content").GetString());
        // After /reset the system prompt stays; "//slash" sends the line "/slash".
        string third = (await client.GetResponseAsync([new(ChatRole.System, "Be brief."), new(ChatRole.User, "/slash")], Greedy(20))).Text;
        Assert.Equal(third, replies[2].GetProperty("content").GetString());
    }

    [Fact]
    public void DefaultModelChatsAsPlainTextOverPipedStdin()
    {
        var r = CliRunner.Run(["chat", "-n", "8", "--seed", "1"], "Hi there\nAnd again\n");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("default model", r.Stderr);
        Assert.True(r.Stdout.Trim().Length > 0, "no reply on stdout");
        Assert.DoesNotContain("> ", r.Stdout); // no prompt when stdin is piped
    }

    [Fact]
    public void BadOptionsAreOneLineErrors()
    {
        var r = CliRunner.Run(["chat", "-n", "0"], "hi\n");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: --max-tokens must be at least 1, got 0", r.Stderr.Trim());
    }

    /// <summary>Calls <see cref="TerminalChat.Interrupt"/> (what Ctrl-C does) as soon as the reply starts to appear.</summary>
    private sealed class InterruptingWriter : StringWriter
    {
        public TerminalChat? Chat { get; set; }
        public bool Interrupted { get; private set; }

        public override void Write(string? value)
        {
            base.Write(value);
            if (!Interrupted && Chat is not null && value is { Length: > 0 } && value != "> ")
                Interrupted = Chat.Interrupt();
        }
    }

    [Fact]
    public async Task CtrlCStopsTheReplyNotTheChatAndTwiceAtThePromptQuits()
    {
        using var client = new MinnowChatClient(ChatTestModel.Load(), ownsModel: true);
        var output = new InterruptingWriter();
        var status = new StringWriter();
        var chat = new TerminalChat(client, Greedy(400), new StringReader("Talk for a long time\nHello\n"), output, status, json: false);
        output.Chat = chat;
        Assert.Equal(0, await chat.RunAsync(CancellationToken.None));
        Assert.True(output.Interrupted);
        Assert.Contains("(stopped)", status.ToString());
        // The stopped reply stays in the history (cut short), and the chat went on to the next line.
        Assert.Equal(4, chat.History.Count);
        Assert.True(client.Engine.Model.Tokenizer!.Encode(chat.History[1].Text).Length < 400);
        Assert.Equal("Hello", chat.History[2].Text);
        string expected = (await client.GetResponseAsync(chat.History.Take(3), Greedy(400))).Text;
        Assert.Equal(expected, chat.History[3].Text);

        // At the prompt: the first Ctrl-C only explains, the second lets the program end.
        Assert.True(chat.Interrupt());
        Assert.Contains("Ctrl-C again", status.ToString());
        Assert.False(chat.Interrupt());
    }

    [Fact]
    public async Task AConversationThatOutgrowsTheContextForgetsItsOldestTurns()
    {
        using var client = new MinnowChatClient(ChatTestModel.Load(), ownsModel: true);
        var output = new StringWriter();
        var status = new StringWriter();
        string longLine = new('w', 200);
        var chat = new TerminalChat(client, Greedy(60), new StringReader($"{longLine}\n{longLine}\n{longLine}\n"), output, status, json: false);
        await chat.RunAsync(CancellationToken.None);
        Assert.Contains("oldest turn was forgotten", status.ToString());
        Assert.Equal(longLine, chat.History[^2].Text);
        Assert.True(chat.History.Count < 6);
    }
}
