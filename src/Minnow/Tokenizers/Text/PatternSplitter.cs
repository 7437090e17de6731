using System.Text.RegularExpressions;

namespace Minnow.Tokenizers.Text;

/// <summary>
/// Finds the matches of a split pattern (all non-overlapping matches, left to right, as Rust's <c>find_iter</c> and
/// JavaScript's <c>matchAll</c> do). The patterns of GPT-2, cl100k, o200k, Llama 3 and Qwen are recognised by their text
/// and run as hand-written scanners (<see cref="GptSplitter"/>): exact at the level of Unicode scalar values and several
/// times faster than a regex. Any other pattern runs on .NET's <see cref="Regex"/>, whose syntax and semantics agree with
/// Oniguruma's for the usual constructs but which classifies each UTF-16 unit on its own, so a letter outside the Basic
/// Multilingual Plane is not <c>\p{L}</c> there.
/// </summary>
internal abstract class PatternSplitter
{
    /// <summary>Appends the (start, end) of every match in <paramref name="text"/>.</summary>
    public abstract void FindAll(ReadOnlySpan<char> text, List<(int Start, int End)> matches);

    /// <summary>The splitter for a pattern: a hand-written scanner when the pattern is a known one, else a compiled regex.</summary>
    public static PatternSplitter For(string pattern) => GptSplitter.TryRecognize(pattern) ?? (PatternSplitter)new RegexSplitter(pattern);

    /// <summary>A literal string pattern (HF's <c>{"String": ...}</c>).</summary>
    public static PatternSplitter ForLiteral(string literal) => new LiteralSplitter(literal);
}

/// <summary>A pattern run by .NET's regex engine.</summary>
internal sealed class RegexSplitter(string pattern) : PatternSplitter
{
    private readonly Regex _regex = Create(pattern);

    private static Regex Create(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw new InvalidInputException($"split pattern '{pattern}' is not a regex .NET can run: {e.Message}");
        }
    }

    public override void FindAll(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        foreach (var match in _regex.EnumerateMatches(text))
            matches.Add((match.Index, match.Index + match.Length));
    }
}

/// <summary>Every occurrence of a literal string (none for the empty string).</summary>
internal sealed class LiteralSplitter(string literal) : PatternSplitter
{
    public override void FindAll(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        if (literal.Length == 0)
            return;
        for (int at = 0; at <= text.Length - literal.Length;)
        {
            int found = text[at..].IndexOf(literal, StringComparison.Ordinal);
            if (found < 0)
                break;
            matches.Add((at + found, at + found + literal.Length));
            at += found + literal.Length;
        }
    }
}
