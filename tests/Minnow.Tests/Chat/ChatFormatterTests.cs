using Microsoft.Extensions.AI;
using Minnow.Chat;
using Minnow.Generation.ChatTemplates;
using Minnow.Models;

namespace Minnow.Tests.Chat;

/// <summary>Which prompt format a model gets: its own Jinja template when it carries one, the plain transcript otherwise.</summary>
public class ChatFormatterTests
{
    private static string Template(string name) => File.ReadAllText(TestData.Path($"chat_templates/{name}.jinja"));

    private static readonly List<ChatMessage> Conversation =
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "Hi"),
        new(ChatRole.Assistant, "Hello."),
        new(ChatRole.User, "Name a fish."),
    ];

    /// <summary>The test model as if it carried <paramref name="template"/> (and these BOS/EOS strings).</summary>
    private static LoadedModel WithTemplate(LoadedModel loaded, string? template, string? bos = null, string? eos = null) => new()
    {
        Model = loaded.Model,
        Tokenizer = loaded.Tokenizer,
        Source = loaded.Source,
        Format = loaded.Format,
        StopTokens = loaded.StopTokens,
        ChatTemplate = template,
        BosToken = bos,
        EosToken = eos,
    };

    [Fact]
    public void AModelsOwnTemplateRendersTheConversation()
    {
        using var loaded = ChatTestModel.Load();
        var formatter = ChatFormatters.ForModel(WithTemplate(loaded, Template("chatml-openhermes-2.5")), out string? note);
        Assert.Null(note);
        Assert.IsType<TemplateChatFormatter>(formatter);
        var prompt = formatter.Format(Conversation);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n" +
            "<|im_start|>user\nName a fish.<|im_end|>\n<|im_start|>assistant\n", prompt.Text);
        Assert.True(prompt.AddSpecial); // the text has no BOS of its own
        Assert.True(prompt.ParseSpecial);
        Assert.Empty(prompt.StopSequences);
    }

    [Fact]
    public void ATemplateThatWritesBosIsNotGivenASecondOne()
    {
        using var loaded = ChatTestModel.Load();
        var formatter = ChatFormatters.ForModel(WithTemplate(loaded, Template("llama-3-instruct"), bos: "<|begin_of_text|>", eos: "<|eot_id|>"), out _);
        var prompt = formatter.Format(Conversation);
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>", prompt.Text);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\n", prompt.Text);
        Assert.False(prompt.AddSpecial);
    }

    [Fact]
    public void NoTemplateOrABrokenOneFallsBackToThePlainFormatWithANote()
    {
        using var loaded = ChatTestModel.Load();
        Assert.Same(PlainChatFormatter.Instance, ChatFormatters.ForModel(loaded, out string? none));
        Assert.Equal(ChatFormatters.PlainFallbackNote, none);
        Assert.Same(PlainChatFormatter.Instance, ChatFormatters.ForModel(WithTemplate(loaded, "{% for m in messages %}{{ m.content }"), out string? broken));
        Assert.Contains("does not parse", broken);
    }

    [Fact]
    public async Task TheChatClientGeneratesFromTheTemplatedPrompt()
    {
        using var loaded = ChatTestModel.Load();
        using var client = new MinnowChatClient(WithTemplate(loaded, Template("chatml-openhermes-2.5")));
        Assert.Null(client.FormatterNote);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 10 };
        var response = await client.GetResponseAsync(Conversation, options);
        string rendered = client.Formatter.Format(Conversation).Text;
        Assert.Equal(loaded.Tokenizer!.Encode(rendered, addSpecial: true, parseSpecial: true).Length, response.Usage!.InputTokenCount);
        Assert.Equal(10, response.Usage.OutputTokenCount);

        // A template's own checks become typed errors (a 400 over HTTP).
        using var llama2 = new MinnowChatClient(WithTemplate(loaded, Template("llama-2-chat"), bos: "<s>", eos: "</s>"));
        await Assert.ThrowsAsync<ChatTemplateException>(() => llama2.GetResponseAsync([new(ChatRole.Assistant, "I speak first")], options));
    }
}
