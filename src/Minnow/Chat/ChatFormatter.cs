using System.Text;
using Microsoft.Extensions.AI;
using Minnow.Generation.ChatTemplates;
using Minnow.Models;

namespace Minnow.Chat;

/// <summary>
/// A conversation rendered as model input: the text, how to tokenize it, and text that ends the assistant's
/// reply (besides the model's stop tokens).
/// </summary>
/// <param name="Text">The prompt, ending where the assistant's reply begins.</param>
/// <param name="AddSpecial">Encode with the tokenizer's special tokens (BOS); false when the text already spells them.</param>
/// <param name="ParseSpecial">Whether special-token text in <paramref name="Text"/> becomes special ids (null: the tokenizer's default).</param>
/// <param name="StopSequences">Text that marks the end of the reply (e.g. the start of the next turn).</param>
public sealed record ChatPrompt(string Text, bool AddSpecial, bool? ParseSpecial, IReadOnlyList<string> StopSequences);

/// <summary>
/// Turns a conversation into a prompt. A model that carries a chat template (GGUF <c>tokenizer.chat_template</c>,
/// HF <c>tokenizer_config.json</c>) gets a <see cref="TemplateChatFormatter"/>; every other model gets
/// <see cref="PlainChatFormatter"/>. Pass another through <see cref="MinnowChatClientOptions.Formatter"/>.
/// </summary>
public interface IChatFormatter
{
    /// <summary>A short name for logs: "plain", or the template's name.</summary>
    string Name { get; }

    /// <summary>Renders <paramref name="messages"/> (text only; system, user, assistant and tool roles) followed by the opening of the assistant's reply.</summary>
    ChatPrompt Format(IReadOnlyList<ChatMessage> messages);
}

/// <summary>
/// The documented fallback for models without a chat template (llama2.c checkpoints, Minnow's default model):
/// <code>
/// {system text}            (system messages, each followed by a blank line)
///
/// User: {text}
/// Assistant: {text}
/// Tool: {text}
/// Assistant:
/// </code>
/// encoded with BOS. The reply ends at the model's stop tokens or at a line starting "User:" or "Assistant:".
/// Base models continue such transcripts reasonably; instruction-tuned models answer best in their own template.
/// </summary>
public sealed class PlainChatFormatter : IChatFormatter
{
    public static PlainChatFormatter Instance { get; } = new();

    private static readonly string[] Stops = ["\nUser:", "\nAssistant:"];

    public string Name => "plain";

    public ChatPrompt Format(IReadOnlyList<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            string role = message.Role.Value;
            if (role == ChatRole.System.Value || role == "developer")
                text.Append(message.Text).Append("\n\n");
            else
                text.Append(RoleLabel(role)).Append(": ").Append(message.Text).Append('\n');
        }
        text.Append("Assistant:");
        return new ChatPrompt(text.ToString(), AddSpecial: true, ParseSpecial: false, Stops);
    }

    private static string RoleLabel(string role) =>
        role.Length == 0 ? "User" : char.ToUpperInvariant(role[0]) + role[1..];
}

/// <summary>
/// Renders conversations with a model's own Jinja chat template (see <see cref="ChatTemplate"/>), as Hugging Face's
/// <c>apply_chat_template(..., add_generation_prompt=True)</c> does. The rendered text spells the template's special
/// tokens, so it is encoded with special-token parsing on, and with the tokenizer's own special tokens (BOS) only
/// when the text does not already start with the BOS string (as llama.cpp does), so BOS is never doubled.
/// </summary>
/// <remarks>Special-token text inside a message's content is parsed as special tokens too (no input marking yet).</remarks>
public sealed class TemplateChatFormatter(ChatTemplate template, string? bosToken, string? eosToken, string name = "template") : IChatFormatter
{
    public string Name => name;

    public ChatTemplate Template => template;

    public ChatPrompt Format(IReadOnlyList<ChatMessage> messages)
    {
        var turns = messages.Select(m => new ChatTurn(m.Role.Value, m.Text));
        string text = template.Render(turns, addGenerationPrompt: true, bosToken, eosToken);
        bool startsWithBos = bosToken is { Length: > 0 } && text.StartsWith(bosToken, StringComparison.Ordinal);
        return new ChatPrompt(text, AddSpecial: !startsWithBos, ParseSpecial: true, []);
    }
}

/// <summary>Chooses the formatter for a loaded model.</summary>
public static class ChatFormatters
{
    /// <summary>The note shown (on stderr, in the server's log) when a model has no chat template.</summary>
    public const string PlainFallbackNote =
        "note: the model carries no chat template; conversations use Minnow's plain format (\"User: …\\nAssistant:\"), see PlainChatFormatter";

    /// <summary>
    /// The model's own chat template when it carries one (GGUF <c>tokenizer.chat_template</c>, HF
    /// <c>tokenizer_config.json</c>); otherwise, or when the template does not parse, <see cref="PlainChatFormatter"/>,
    /// with <paramref name="note"/> saying so.
    /// </summary>
    public static IChatFormatter ForModel(LoadedModel model, out string? note)
    {
        note = null;
        if (model.ChatTemplate is { Length: > 0 } source)
        {
            try
            {
                return new TemplateChatFormatter(ChatTemplate.Parse(source), model.BosToken, model.EosToken, "template");
            }
            catch (ChatTemplateException e)
            {
                note = $"note: the model's chat template does not parse ({e.Message}); conversations use Minnow's plain format instead";
                return PlainChatFormatter.Instance;
            }
        }
        note = PlainFallbackNote;
        return PlainChatFormatter.Instance;
    }
}
