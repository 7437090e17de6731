using System.Text.Json;
using Minnow.Generation.ChatTemplates;

namespace Minnow.Tests.ChatTemplates;

/// <summary>Bad or unsupported templates fail with a typed error naming the construct and its line and column.</summary>
public class ErrorTests
{
    private static readonly JsonElement Messages = JsonDocument.Parse("""[{"role": "user", "content": "hi"}]""").RootElement;

    private static ChatTemplateException ParseError(string template) => Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template));

    private static ChatTemplateException RenderError(string template) =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template).Render(Messages, addGenerationPrompt: false));

    [Theory]
    [InlineData("{% extends 'base.html' %}", "extends", 1, 4)]
    [InlineData("x\n  {% include 'other.jinja' %}", "include", 2, 6)]
    [InlineData("{% import 'm' as m %}", "import", 1, 4)]
    [InlineData("{% block body %}{% endblock %}", "block", 1, 4)]
    public void UnsupportedTagsAreNamedWithTheirPosition(string template, string tag, int line, int column)
    {
        var e = ParseError(template);
        Assert.Equal(ChatTemplateErrorKind.Unsupported, e.Kind);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.Equal($"line {line}, column {column}: the '{tag}' tag is not supported in chat templates", e.Message);
    }

    [Fact]
    public void UnknownAndUnsupportedFiltersAndTestsAreNamed()
    {
        var unknown = ParseError("{{ 'a' }}\n{{ messages | shout }}");
        Assert.Equal((ChatTemplateErrorKind.Syntax, 2, 15), (unknown.Kind, unknown.Line, unknown.Column));
        Assert.Equal("line 2, column 15: no filter named 'shout'", unknown.Message);

        var unsupported = ParseError("{{ messages|groupby('role') }}");
        Assert.Equal(ChatTemplateErrorKind.Unsupported, unsupported.Kind);
        Assert.Contains("'groupby' filter is not supported", unsupported.Message);

        Assert.Equal("line 1, column 9: no test named 'loud'", ParseError("{{ x is loud }}").Message);
    }

    [Theory]
    [InlineData("{% if x %}never closed", "line 1, column 4: unexpected end of template: the 'if' tag opened here is never closed with 'endif'")]
    [InlineData("ok\n{% endfor %}", "line 2, column 4: unexpected 'endfor': no open block to close")]
    [InlineData("{% frobnicate %}", "line 1, column 4: unknown tag 'frobnicate'")]
    [InlineData("{% break %}", "line 1, column 4: 'break' outside a for loop")]
    [InlineData("{{ 'open string }}", "line 1, column 4: unterminated string literal")]
    [InlineData("{{ 1 + }}", "line 1, column 8: unexpected end of print statement")]
    [InlineData("{{ x ! y }}", "line 1, column 6: unexpected char '!'")]
    [InlineData("{{ (1 }}", "line 1, column 7: unexpected '}', expected ')'")]
    [InlineData("{# never closed", "line 1, column 1: missing end of comment tag")]
    [InlineData("{{ x", "line 1, column 1: unexpected end of template: the tag is never closed with '}}'")]
    public void SyntaxErrorsSayWhatAndWhere(string template, string message)
    {
        var e = ParseError(template);
        Assert.Equal(message, e.Message);
        Assert.NotEqual(ChatTemplateErrorKind.Raised, e.Kind);
    }

    [Fact]
    public void RaiseExceptionGivesExactlyTheTemplatesMessage()
    {
        var e = RenderError("{% if messages[0].role == 'user' %}\n  {{ raise_exception('Roles must alternate: ' ~ messages|length) }}\n{% endif %}");
        Assert.Equal(ChatTemplateErrorKind.Raised, e.Kind);
        Assert.Equal("Roles must alternate: 1", e.Message);
        Assert.Equal((2, 6), (e.Line, e.Column));
    }

    [Theory]
    [InlineData("{{ foo.bar }}", "line 1, column 7: 'foo' is undefined")]
    [InlineData("{{ messages[0].nope.deeper }}", "line 1, column 20: 'dict object' has no attribute 'nope'")]
    [InlineData("{{ 'n: ' + messages|length }}", "line 1, column 10: can only concatenate str (not \"int\") to str")]
    [InlineData("{{ undefined_name + 1 }}", "line 1, column 19: 'undefined_name' is undefined")]
    [InlineData("{{ [1].append(2) }}", "line 1, column 7: access to attribute 'append' of 'list' object is unsafe.")]
    [InlineData("{{ 1 < 'a' }}", "line 1, column 4: '<' not supported between instances of 'int' and 'str'")]
    [InlineData("{{ 1 // 0 }}", "line 1, column 6: integer division or modulo by zero")]
    [InlineData("{% for a, b in [[1, 2, 3]] %}{% endfor %}", "line 1, column 4: too many values to unpack (expected 2)")]
    [InlineData("{% set n = 5 %}{% set n.x = 1 %}", "line 1, column 19: cannot assign attribute on non-namespace object")]
    [InlineData("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "line 1, column 34: macro 'm' takes not more than 1 argument(s)")]
    [InlineData("{{ nothing() }}", "line 1, column 4: 'nothing' is undefined")]
    public void RuntimeErrorsSayWhatAndWhere(string template, string message)
    {
        var e = RenderError(template);
        Assert.Equal(ChatTemplateErrorKind.Runtime, e.Kind);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void UndefinedVariablesBehaveAsJinja2sDefaultUndefined()
    {
        var template = ChatTemplate.Parse("[{{ bos_token }}]{% if bos_token is defined %}defined{% endif %}{{ eos_token }}");
        Assert.Equal("[]", template.Render([new ChatTurn("user", "hi")], false, bosToken: null, eosToken: null));
        Assert.Equal("[<s>]defined</s>", template.Render([new ChatTurn("user", "hi")], false, bosToken: "<s>", eosToken: "</s>"));
        // HF passes tools=None and documents=None, so they are defined (and none) unless given.
        Assert.Equal("True True", ChatTemplate.Parse("{{ tools is defined }} {{ documents is none }}").Render(Messages, false));
    }
}
