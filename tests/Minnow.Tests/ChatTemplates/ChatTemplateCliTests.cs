using System.Text.Json;

namespace Minnow.Tests.ChatTemplates;

/// <summary>The built <c>minnow chat-template</c> command, run as a user runs it.</summary>
public class ChatTemplateCliTests
{
    private static (int Exit, string Stdout, string Stderr) Minnow(params string[] args)
    {
        var r = Cli.CliRunner.Run(args);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    [Fact]
    public void BatchModeReproducesEverySharedCase()
    {
        string dir = TestData.Path("chat_templates"), input = Path.Combine(dir, "cases.jsonl");
        var (exit, stdout, stderr) = Minnow("chat-template", "--template-dir", dir, "--input", input, "--json");
        Assert.True(exit == 0, stderr);
        var cases = File.ReadLines(input).Where(l => l.Trim().Length > 0).ToList();
        var outputs = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cases.Count, outputs.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            var expected = JsonDocument.Parse(cases[i]).RootElement;
            var actual = JsonDocument.Parse(outputs[i]).RootElement;
            if (expected.TryGetProperty("expected", out var text))
                Assert.Equal(text.GetString(), actual.GetProperty("rendered").GetString());
            else
                Assert.Equal(expected.GetProperty("expected_error").GetString(), actual.GetProperty("error").GetString());
        }
    }

    [Fact]
    public void BadLinesReportAnErrorEachAndTheRestGoOn()
    {
        string dir = Directory.CreateTempSubdirectory("minnow-chat-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "t.jinja"), "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
            string input = Path.Combine(dir, "cases.jsonl");
            File.WriteAllLines(input,
            [
                """{"template": "t.jinja", "messages": [{"role": "user", "content": "hé <b>"}], "add_generation_prompt": false}""",
                """{"template": "t.jinja", "messages": [""",
                """{"template": "missing.jinja", "messages": [], "add_generation_prompt": true}""",
                """{"template": "t.jinja", "messages": "not a list"}""",
            ]);
            var (exit, stdout, _) = Minnow("chat-template", "--template-dir", dir, "--input", input, "--json");
            Assert.Equal(0, exit);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(4, lines.Count);
            Assert.Equal("[user] hé <b>\n", lines[0].GetProperty("rendered").GetString());
            Assert.StartsWith("line 2: invalid JSON", lines[1].GetProperty("error").GetString());
            Assert.Contains("missing.jinja", lines[2].GetProperty("error").GetString());
            Assert.Equal("line 4: \"messages\" must be an array", lines[3].GetProperty("error").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SingleModeRendersOneConversationExactly()
    {
        string dir = Directory.CreateTempSubdirectory("minnow-chat-").FullName;
        try
        {
            string template = Path.Combine(dir, "t.jinja"), messages = Path.Combine(dir, "m.json");
            File.WriteAllText(template, "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if tools %}{{ tools|tojson }}{% endif %}{% if add_generation_prompt %}<assistant>{% endif %}\n");
            File.WriteAllText(messages, """{"messages": [{"role": "user", "content": "Grüße 🙂"}], "tools": [{"name": "f"}]}""");
            var (exit, stdout, stderr) = Minnow("chat-template", "--template", template, "--messages", messages, "--add-generation-prompt", "--bos-token", "<s>");
            Assert.True(exit == 0, stderr);
            Assert.Equal("<s><user>Grüße 🙂[{\"name\": \"f\"}]<assistant>", stdout);

            (exit, stdout, _) = Minnow("chat-template", "--template", template, "--messages", messages, "--json");
            Assert.Equal(0, exit);
            Assert.Equal("<user>Grüße 🙂[{\"name\": \"f\"}]", JsonDocument.Parse(stdout).RootElement.GetProperty("rendered").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WholeCommandErrorsAreOneLineAndNonZero()
    {
        var (exit, stdout, stderr) = Minnow("chat-template", "--template-dir", ".", "--input", "/nonexistent/cases.jsonl");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        (exit, _, stderr) = Minnow("chat-template", "--model", "some-model", "--messages", "m.json");
        Assert.Equal(1, exit);
        Assert.Contains("not found", stderr);
    }
}
