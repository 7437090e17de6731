using System.Text.Json;
using Minnow.Generation.ChatTemplates;

namespace Minnow.Tests.ChatTemplates;

/// <summary>
/// Hostile templates stop with a LimitExceeded error after a bounded amount of work. The bound is the evaluation step
/// counter (and nesting and size limits), never wall-clock time, so these tests assert steps and error kinds only.
/// </summary>
public class LimitsTests
{
    private static readonly JsonElement Messages = JsonDocument.Parse("""[{"role": "user", "content": "hi"}]""").RootElement;

    private static ChatTemplateException Fails(string template, ChatTemplateLimits? limits = null)
    {
        var e = Assert.Throws<ChatTemplateException>(() =>
            ChatTemplate.Parse(template).WithLimits(limits ?? ChatTemplateLimits.Default).Render(Messages, addGenerationPrompt: false));
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, e.Kind);
        return e;
    }

    [Fact]
    public void RenderingCountsStepsExactlyAndStopsAtTheLimit()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(TestData.Path("chat_templates/llama-3.2-3b-instruct.jinja")));
        var messages = JsonDocument.Parse("""
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]
            """).RootElement;
        var variables = new Dictionary<string, object?> { ["date_string"] = "26 Jul 2024", ["bos_token"] = "<|begin_of_text|>" };

        string rendered = template.Render(Json.FromJson(messages), true, variables, out long steps);
        template.Render(Json.FromJson(messages), true, variables, out long again);
        Assert.Equal(steps, again);
        Assert.InRange(steps, 100, 2_000); // a real conversation is cheap: far below the default limit

        var exact = template.WithLimits(new ChatTemplateLimits { MaxSteps = steps });
        Assert.Equal(rendered, exact.Render(Json.FromJson(messages), true, variables, out _));
        var oneShort = template.WithLimits(new ChatTemplateLimits { MaxSteps = steps - 1 });
        long used = 0;
        var e = Assert.Throws<ChatTemplateException>(() => oneShort.Render(Json.FromJson(messages), true, variables, out used));
        Assert.Equal(ChatTemplateErrorKind.LimitExceeded, e.Kind);
        Assert.Equal(steps, used);
    }

    [Fact]
    public void HugeLoopsStopAtTheStepLimit()
    {
        const string template = "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}";
        var e = Fails(template, new ChatTemplateLimits { MaxSteps = 100_000 });
        Assert.EndsWith("rendering took more than 100000 steps", e.Message);
        long steps = 0;
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template).WithLimits(new ChatTemplateLimits { MaxSteps = 100_000 })
            .Render(Json.FromJson(Messages), false, null, out steps));
        Assert.Equal(100_001, steps);
        Fails(template); // the default limit stops it too
    }

    [Fact]
    public void RangesAreCappedAsInJinjasSandbox()
    {
        var e = Fails("{% for i in range(10**9) %}{% endfor %}");
        Assert.EndsWith("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).", e.Message);
    }

    [Theory]
    [InlineData("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}")]
    [InlineData("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}")]
    [InlineData("{% for x in [[]] recursive %}{{ loop([[]]) }}{% endfor %}")]
    // A real bug pattern: a JSON-schema type that is a string recurses forever because strings are iterable.
    [InlineData("{% macro t(s) %}{% if s.type is iterable %}{% for x in s.type %}{{ t({'type': x}) }}{% endfor %}{% endif %}{% endmacro %}{{ t({'type': 'null'}) }}")]
    public void RunawayRecursionStops(string template) => Fails(template);

    [Fact]
    public void DeepNestingIsRefusedWhileParsing()
    {
        Fails("{{ " + new string('(', 500) + "1" + new string(')', 500) + " }}");
        Fails(string.Concat(Enumerable.Repeat("{% if true %}", 300)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", 300)));
        Fails("{{ " + string.Concat(Enumerable.Repeat("not ", 300)) + "true }}");
        Fails("{{ " + string.Concat(Enumerable.Repeat("-", 300)) + "1 }}");
    }

    [Theory]
    [InlineData("{{ 'a' * 10**10 }}")]
    [InlineData("{{ [0] * 10**10 }}")]
    [InlineData("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")]
    [InlineData("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")]
    [InlineData("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")]
    [InlineData("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s|replace('x', 'yy') }}{% endfor %}")]
    public void BlowUpsOfStringsAndListsStop(string template) => Fails(template);
}
