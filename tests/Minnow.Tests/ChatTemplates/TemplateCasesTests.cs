using System.Text.Json;
using Minnow.Generation.ChatTemplates;

namespace Minnow.Tests.ChatTemplates;

/// <summary>
/// Whole real-world templates against Jinja2's own output: the shared oracle cases (Llama 2/3/3.2, Mistral, Mistral-Nemo,
/// Gemma 2, Phi-3.5, ChatML, Qwen1.5 as HF renders them) and this folder's extra cases (Qwen2.5 with tools, Llama 3.1 with
/// tools, SmolLM2, DeepSeek-R1, Hermes tool use, Gemma 3; see Data/make_extra_cases.py).
/// </summary>
public class TemplateCasesTests
{
    private static readonly string SharedDir = TestData.Path("chat_templates");
    private static readonly string ExtraDir = Path.Combine(TestData.RepoRoot, "tests", "Minnow.Tests", "ChatTemplates", "Data");

    public static TheoryData<int> SharedCases() => LineNumbers(Path.Combine(SharedDir, "cases.jsonl"));
    public static TheoryData<int> ExtraCases() => LineNumbers(Path.Combine(ExtraDir, "extra_cases.jsonl"));

    private static TheoryData<int> LineNumbers(string file)
    {
        var data = new TheoryData<int>();
        int count = File.ReadLines(file).Count(line => line.Trim().Length > 0);
        for (int i = 1; i <= count; i++)
            data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(SharedCases))]
    public void SharedCaseMatchesJinja2(int line) => Check(SharedDir, "cases.jsonl", line);

    [Theory]
    [MemberData(nameof(ExtraCases))]
    public void ExtraCaseMatchesJinja2(int line) => Check(ExtraDir, "extra_cases.jsonl", line);

    [Fact]
    public void AllSharedCasesAreCovered() => Assert.Equal(72, SharedCases().Count);

    /// <summary>Renders one case line and checks the exact output, the exact raise_exception message, or (where Jinja2 itself failed) a failure.</summary>
    internal static void Check(string dir, string file, int line)
    {
        using var doc = JsonDocument.Parse(File.ReadLines(Path.Combine(dir, file)).Where(l => l.Trim().Length > 0).ElementAt(line - 1));
        var c = doc.RootElement;
        var template = ChatTemplate.Parse(File.ReadAllText(Path.Combine(dir, c.GetProperty("template").GetString()!)));
        var variables = new Dictionary<string, object?>();
        if (c.TryGetProperty("extra_context", out var extra))
            foreach (var p in extra.EnumerateObject())
                variables[p.Name] = p.Value;
        string? Token(string name) => c.GetProperty(name).ValueKind == JsonValueKind.String ? c.GetProperty(name).GetString() : null;
        string Render() => template.Render(c.GetProperty("messages"), c.GetProperty("add_generation_prompt").GetBoolean(), Token("bos_token"), Token("eos_token"), variables);

        if (c.TryGetProperty("expected", out var expected))
            Assert.Equal(expected.GetString(), Render());
        else if (c.TryGetProperty("expected_error", out var raised))
        {
            var e = Assert.Throws<ChatTemplateException>(Render);
            Assert.Equal(ChatTemplateErrorKind.Raised, e.Kind);
            Assert.Equal(raised.GetString(), e.Message);
        }
        else
        {
            var e = Assert.Throws<ChatTemplateException>(Render);
            Assert.NotEqual(ChatTemplateErrorKind.Raised, e.Kind);
        }
    }
}
