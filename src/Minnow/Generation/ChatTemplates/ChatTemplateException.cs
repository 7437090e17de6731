namespace Minnow.Generation.ChatTemplates;

/// <summary>What went wrong in a chat template.</summary>
public enum ChatTemplateErrorKind
{
    /// <summary>The template text is not valid Jinja.</summary>
    Syntax,
    /// <summary>Valid Jinja that Minnow's interpreter does not implement (extends, include, some filters…).</summary>
    Unsupported,
    /// <summary>An error while rendering: an undefined variable used in arithmetic, a type error, a bad argument…</summary>
    Runtime,
    /// <summary>The template itself called <c>raise_exception(message)</c>; the exception message is exactly that message.</summary>
    Raised,
    /// <summary>Rendering exceeded a <see cref="ChatTemplateLimits"/> bound (steps, depth or output size).</summary>
    LimitExceeded,
}

/// <summary>
/// A chat template failed to parse or render. <see cref="Line"/> and <see cref="Column"/> (1-based, 0 when unknown)
/// locate the construct in the template source. For <see cref="ChatTemplateErrorKind.Raised"/> the message is exactly
/// the text the template passed to <c>raise_exception</c> (no prefix), so it can be shown to users verbatim;
/// otherwise it starts with the position.
/// </summary>
public sealed class ChatTemplateException : MinnowException
{
    public ChatTemplateErrorKind Kind { get; }
    public int Line { get; }
    public int Column { get; }

    public ChatTemplateException(ChatTemplateErrorKind kind, string message, int line, int column)
        : base(kind == ChatTemplateErrorKind.Raised || line == 0 ? message : $"line {line}, column {column}: {message}")
    {
        Kind = kind;
        Line = line;
        Column = column;
    }
}

/// <summary>
/// The interpreter's internal error: carries the source offset of the innermost AST node that saw it,
/// and becomes a <see cref="ChatTemplateException"/> (with line and column) at the public boundary.
/// </summary>
internal sealed class TemplateError(ChatTemplateErrorKind kind, string message) : Exception(message)
{
    public ChatTemplateErrorKind Kind { get; } = kind;
    public int Offset { get; set; } = -1;

    public static TemplateError Runtime(string message) => new(ChatTemplateErrorKind.Runtime, message);
    public static TemplateError Unsupported(string message) => new(ChatTemplateErrorKind.Unsupported, message);
    public static TemplateError At(int offset, ChatTemplateErrorKind kind, string message) => new(kind, message) { Offset = offset };
}
