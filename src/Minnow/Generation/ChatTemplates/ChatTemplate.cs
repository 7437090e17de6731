using System.Collections.Concurrent;
using System.Text.Json;

namespace Minnow.Generation.ChatTemplates;

/// <summary>A chat message with a role ("system", "user", "assistant"…) and text content; the template sees it as <c>{"role": …, "content": …}</c>.</summary>
public sealed record ChatTurn(string Role, string? Content)
{
    internal PyDict ToTemplateValue()
    {
        var message = new PyDict();
        message.Set("role", Role);
        message.Set("content", Content);
        return message;
    }
}

/// <summary>
/// A model's Jinja chat template (<c>tokenizer_config.json</c> <c>chat_template</c> or GGUF <c>tokenizer.chat_template</c>),
/// rendered exactly as Hugging Face transformers' <c>apply_chat_template</c> renders it: Jinja2's sandbox with
/// trim_blocks, lstrip_blocks and loop controls, one trailing newline of the source dropped, <c>tojson</c> as
/// <c>json.dumps(ensure_ascii=False)</c>, and the globals <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
/// <remarks>
/// Templates are parsed once: <see cref="Parse"/> caches by source text, and a parsed template is immutable, so one
/// instance can render on many threads at once. Rendering binds <c>messages</c>, <c>add_generation_prompt</c>,
/// <c>tools</c> and <c>documents</c> (None unless given, as transformers does), and the caller's variables.
/// Messages given as JSON may carry anything the template reads (<c>tool_calls</c>, <c>tool_call_id</c>, content parts…).
/// Known differences from Python: integers are 64-bit, and upper/lower use simple (one-to-one) case mapping.
/// </remarks>
public sealed class ChatTemplate
{
    private const int CacheCapacity = 64;
    private static readonly ConcurrentDictionary<string, ChatTemplate> Cache = new(StringComparer.Ordinal);
    private static readonly Scope GlobalScope = Globals.Create();

    private readonly List<Stmt> _body;
    private readonly string _normalizedSource;

    private ChatTemplate(string source, string normalizedSource, List<Stmt> body, ChatTemplateLimits limits)
    {
        Source = source;
        _normalizedSource = normalizedSource;
        _body = body;
        Limits = limits;
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>The bounds each render of this instance runs under.</summary>
    public ChatTemplateLimits Limits { get; }

    /// <summary>Parses <paramref name="source"/> (or returns the cached parse of the same text).</summary>
    /// <exception cref="ChatTemplateException">The template is not valid Jinja or uses an unsupported construct; the message names it and its line and column.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Cache.TryGetValue(source, out var cached))
            return cached;
        string normalized = Lexer.Normalize(source);
        List<Stmt> body;
        try
        {
            body = Parser.Parse(normalized);
        }
        catch (TemplateError e)
        {
            throw ToPublic(e, normalized);
        }
        var template = new ChatTemplate(source, normalized, body, ChatTemplateLimits.Default);
        if (Cache.Count >= CacheCapacity)
            Cache.Clear();
        Cache[source] = template;
        return template;
    }

    /// <summary>The same parsed template, rendering under other <paramref name="limits"/>.</summary>
    public ChatTemplate WithLimits(ChatTemplateLimits limits) => new(Source, _normalizedSource, _body, limits);

    /// <summary>Renders role/content messages; <paramref name="variables"/> become template variables (see <see cref="Render(JsonElement, bool, IReadOnlyDictionary{string, object?}?)"/>).</summary>
    /// <exception cref="ChatTemplateException">The template failed or called <c>raise_exception</c>.</exception>
    public string Render(IEnumerable<ChatTurn> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables = null) =>
        Render(messages.Select(m => (object?)m.ToTemplateValue()).ToList(), addGenerationPrompt, variables, out _);

    /// <summary>Renders role/content messages with the model's BOS and EOS strings bound as <c>bos_token</c>/<c>eos_token</c> (null leaves the variable undefined).</summary>
    public string Render(IEnumerable<ChatTurn> messages, bool addGenerationPrompt, string? bosToken, string? eosToken, IReadOnlyDictionary<string, object?>? variables = null) =>
        Render(messages, addGenerationPrompt, WithTokens(variables, bosToken, eosToken));

    /// <summary>
    /// Renders messages given as a JSON array of message objects, each passed through as Python's <c>json.loads</c> would
    /// give it. <paramref name="variables"/> become template variables (<c>bos_token</c>, <c>tools</c>, <c>date_string</c>…);
    /// values may be strings, numbers, booleans, null (Python None), <see cref="JsonElement"/>, <see cref="System.Text.Json.Nodes.JsonNode"/>,
    /// lists or string-keyed dictionaries. A variable left out is undefined in the template.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template failed or called <c>raise_exception</c>.</exception>
    public string Render(JsonElement messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables = null)
    {
        if (messages.ValueKind != JsonValueKind.Array)
            throw new ArgumentException("messages must be a JSON array of message objects", nameof(messages));
        return Render(Json.FromJson(messages), addGenerationPrompt, variables, out _);
    }

    /// <summary>Renders JSON messages with the model's BOS and EOS strings bound as <c>bos_token</c>/<c>eos_token</c> (null leaves the variable undefined).</summary>
    public string Render(JsonElement messages, bool addGenerationPrompt, string? bosToken, string? eosToken, IReadOnlyDictionary<string, object?>? variables = null) =>
        Render(messages, addGenerationPrompt, WithTokens(variables, bosToken, eosToken));

    private static Dictionary<string, object?> WithTokens(IReadOnlyDictionary<string, object?>? variables, string? bosToken, string? eosToken)
    {
        var all = variables is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(variables);
        if (bosToken is not null)
            all["bos_token"] = bosToken;
        if (eosToken is not null)
            all["eos_token"] = eosToken;
        return all;
    }

    /// <summary>The render itself; <paramref name="steps"/> reports the evaluation steps used (tests check the work bound with it).</summary>
    internal string Render(object? messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables, out long steps)
    {
        var context = new Scope(GlobalScope);
        context.Set("messages", messages);
        context.Set("tools", null);
        context.Set("documents", null);
        context.Set("add_generation_prompt", addGenerationPrompt);
        if (variables is not null)
            foreach (var (name, value) in variables)
                context.Set(name, Json.FromClr(value));
        var evaluator = new Evaluator(Limits, new Scope(context));
        try
        {
            return evaluator.Render(_body);
        }
        catch (TemplateError e)
        {
            throw ToPublic(e, _normalizedSource);
        }
        catch (OverflowException)
        {
            throw new ChatTemplateException(ChatTemplateErrorKind.Runtime, "integer overflow (template integers are 64-bit)", 0, 0);
        }
        finally
        {
            steps = evaluator.Steps;
        }
    }

    private static ChatTemplateException ToPublic(TemplateError e, string source)
    {
        int line = 0, column = 0;
        if (e.Offset >= 0)
        {
            int offset = Math.Min(e.Offset, source.Length);
            line = source.AsSpan(0, offset).Count('\n') + 1;
            column = offset - (offset == 0 ? -1 : source.LastIndexOf('\n', offset - 1));
        }
        return new ChatTemplateException(e.Kind, e.Message, line, column);
    }
}
