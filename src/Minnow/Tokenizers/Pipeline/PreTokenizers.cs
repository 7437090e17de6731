using System.Text;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Pipeline;

/// <summary>
/// A span of text on its way through a pipeline. <see cref="AtStart"/> tells whether it begins the whole input
/// (Metaspace's "first" prepend scheme needs to know).
/// </summary>
internal readonly record struct Piece(string Text, int Start, int Length, bool AtStart)
{
    public Piece(string text, bool atStart = true) : this(text, 0, text.Length, atStart) { }

    public ReadOnlySpan<char> Span => Text.AsSpan(Start, Length);

    public Piece Slice(int start, int end) => new(Text, Start + start, end - start, AtStart && start == 0);

    public override string ToString() => Span.ToString();
}

/// <summary>How a split keeps the matched delimiters (HF's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Splits (and sometimes rewrites) pieces before the model sees them (HF's pre-tokenizers).</summary>
internal interface IPreTokenizer
{
    void PreTokenize(Piece piece, List<Piece> output);
}

/// <summary>Shared split logic: turns the matches in a piece into sub-pieces by a <see cref="SplitBehavior"/>.</summary>
internal static class Splitting
{
    [ThreadStatic] private static List<(int Start, int End)>? t_matches;

    /// <summary>Splits at the matches of <paramref name="splitter"/> (or, with <paramref name="invert"/>, at what lies between them).</summary>
    public static void Split(Piece piece, PatternSplitter splitter, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        var matches = t_matches ??= [];
        matches.Clear();
        splitter.FindAll(piece.Span, matches);
        if (behavior == SplitBehavior.Isolated && !invert)
        {
            // The common case (every GPT-style split): matches and the gaps between them, in order.
            int previous = 0;
            foreach (var (start, end) in SpanLookup.AsSpan(matches))
            {
                if (start > previous)
                    output.Add(piece.Slice(previous, start));
                if (end > start)
                    output.Add(piece.Slice(start, end));
                previous = end;
            }
            if (previous < piece.Length)
                output.Add(piece.Slice(previous, piece.Length));
            return;
        }
        Split(piece, matches, behavior, invert, output);
    }

    /// <summary>Splits at every character for which <paramref name="isDelimiter"/> holds (each is its own match).</summary>
    public static void Split(Piece piece, Func<int, bool> isDelimiter, SplitBehavior behavior, List<Piece> output)
    {
        var matches = t_matches ??= [];
        matches.Clear();
        var span = piece.Span;
        for (int i = 0; i < span.Length;)
        {
            int c = CharClass.CodePointAt(span, i, out int units);
            if (isDelimiter(c))
                matches.Add((i, i + units));
            i += units;
        }
        Split(piece, matches, behavior, invert: false, output);
    }

    private static void Split(Piece piece, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        // Every stretch of the piece, in order, flagged as delimiter (a match, or a gap when inverted) or not.
        Span<(int Start, int End, bool Delimiter)> stretches = matches.Count * 2 + 1 <= 256
            ? stackalloc (int, int, bool)[matches.Count * 2 + 1]
            : new (int, int, bool)[matches.Count * 2 + 1];
        int count = 0, previous = 0;
        foreach (var (start, end) in matches)
        {
            if (start > previous)
                stretches[count++] = (previous, start, invert);
            if (end > start)
                stretches[count++] = (start, end, !invert);
            previous = end;
        }
        if (previous < piece.Length)
            stretches[count++] = (previous, piece.Length, invert);

        int first = output.Count;
        bool previousDelimiter = false;
        for (int i = 0; i < count; i++)
        {
            var (start, end, delimiter) = stretches[i];
            switch (behavior)
            {
                case SplitBehavior.Removed:
                    if (!delimiter)
                        output.Add(piece.Slice(start, end));
                    break;
                case SplitBehavior.Isolated:
                    output.Add(piece.Slice(start, end));
                    break;
                case SplitBehavior.MergedWithPrevious:
                    if (delimiter && !previousDelimiter && output.Count > first)
                        output[^1] = piece.Slice(output[^1].Start - piece.Start, end);
                    else
                        output.Add(piece.Slice(start, end));
                    break;
                case SplitBehavior.Contiguous:
                    if (delimiter == previousDelimiter && output.Count > first)
                        output[^1] = piece.Slice(output[^1].Start - piece.Start, end);
                    else
                        output.Add(piece.Slice(start, end));
                    break;
                case SplitBehavior.MergedWithNext:
                    // A delimiter joins the stretch after it, unless that one is a delimiter too.
                    if (delimiter && i + 1 < count && !stretches[i + 1].Delimiter)
                    {
                        output.Add(piece.Slice(start, stretches[i + 1].End));
                        i++;
                        delimiter = false;
                    }
                    else
                        output.Add(piece.Slice(start, end));
                    break;
            }
            previousDelimiter = delimiter;
        }
    }
}

/// <summary>
/// GPT-2's byte-level step: optionally a leading space, optionally the GPT-2 split regex, then every byte as its
/// <see cref="ByteLevelAlphabet"/> character. When it is the last pre-tokenizer the pipeline lets the model read the
/// bytes itself (<see cref="MapsBytes"/> false), which saves a copy of every piece.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex, bool mapsBytes = true) : IPreTokenizer
{
    private static readonly PatternSplitter Gpt2 = new GptSplitter(GptSplitter.Flavor.Gpt2, GptSplitter.ContractionCase.LowerOnly);

    public bool AddPrefixSpace => addPrefixSpace;
    public bool UseRegex => useRegex;
    public bool MapsBytes => mapsBytes;

    /// <summary>The same step, leaving the byte mapping to the model.</summary>
    public ByteLevelPreTokenizer WithoutMapping() => new(addPrefixSpace, useRegex, mapsBytes: false);

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        if (addPrefixSpace && !piece.Span.StartsWith(' '))
            piece = new Piece(" " + piece.ToString(), piece.AtStart);
        int first = output.Count;
        if (useRegex)
            Splitting.Split(piece, Gpt2, SplitBehavior.Isolated, invert: false, output);
        else
            output.Add(piece);
        if (mapsBytes)
            for (int i = first; i < output.Count; i++)
                output[i] = new Piece(ByteLevelAlphabet.Encode(output[i].ToString()), output[i].AtStart);
    }
}

/// <summary>HF's Split: a regex or literal pattern, a delimiter behaviour, optionally inverted.</summary>
internal sealed class SplitPreTokenizer(PatternSplitter splitter, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public PatternSplitter Splitter => splitter;

    public void PreTokenize(Piece piece, List<Piece> output) => Splitting.Split(piece, splitter, behavior, invert, output);
}

/// <summary>When to put the replacement character in front of a piece (HF Metaspace's <c>prepend_scheme</c>).</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>
/// SentencePiece-style whitespace: spaces become <c>▁</c>, a <c>▁</c> is prepended (always, only at the start of the
/// input, or never), and with <c>split</c> the piece is cut before each <c>▁</c>.
/// </summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output)
    {
        string text = piece.ToString().Replace(' ', replacement);
        if (!text.StartsWith(replacement) && (scheme == PrependScheme.Always || (scheme == PrependScheme.First && piece.AtStart)))
            text = replacement + text;
        var replaced = new Piece(text, piece.AtStart);
        if (split)
            Splitting.Split(replaced, c => c == replacement, SplitBehavior.MergedWithNext, output);
        else
            output.Add(replaced);
    }
}

/// <summary>Separates numbers from the rest: each digit alone, or runs of digits.</summary>
internal sealed class DigitsPreTokenizer(bool individualDigits) : IPreTokenizer
{
    public bool IndividualDigits => individualDigits;

    public void PreTokenize(Piece piece, List<Piece> output) =>
        Splitting.Split(piece, CharClass.IsNumber, individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, output);
}

/// <summary>Splits at punctuation (ASCII punctuation and Unicode P*), kept by the given behaviour.</summary>
internal sealed class PunctuationPreTokenizer(SplitBehavior behavior) : IPreTokenizer
{
    public static bool IsPunctuation(int c) =>
        c < 128 ? c is > ' ' and < 127 && !char.IsAsciiLetterOrDigit((char)c) : CharClass.IsPunctuation(CharClass.Category(c));

    public void PreTokenize(Piece piece, List<Piece> output) => Splitting.Split(piece, IsPunctuation, behavior, output);
}

/// <summary>Splits at whitespace, dropping it.</summary>
internal sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output) => Splitting.Split(piece, CharClass.IsWhiteSpace, SplitBehavior.Removed, output);
}

/// <summary>HF's Whitespace: keeps the matches of <c>\w+|[^\w\s]+</c> (runs of word characters, runs of other non-space), drops whitespace.</summary>
internal sealed class WhitespacePreTokenizer : IPreTokenizer
{
    /// <summary><c>\w</c>: letters, marks, decimal and letter numbers, connector punctuation.</summary>
    private static bool IsWord(int c)
    {
        var category = CharClass.Category(c);
        return CharClass.IsLetter(category) || CharClass.IsMark(category) || category is System.Globalization.UnicodeCategory.DecimalDigitNumber
            or System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.ConnectorPunctuation;
    }

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        var span = piece.Span;
        int i = 0;
        while (i < span.Length)
        {
            int c = CharClass.CodePointAt(span, i, out int units);
            if (CharClass.IsWhiteSpace(c))
            {
                i += units;
                continue;
            }
            bool word = IsWord(c);
            int start = i;
            while (i < span.Length)
            {
                int d = CharClass.CodePointAt(span, i, out int n);
                if (CharClass.IsWhiteSpace(d) || IsWord(d) != word)
                    break;
                i += n;
            }
            output.Add(piece.Slice(start, i));
        }
    }
}

/// <summary>BERT's pre-tokenizer: split at whitespace (dropped), then each punctuation character alone.</summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    private static readonly WhitespaceSplitPreTokenizer Whitespace = new();
    [ThreadStatic] private static List<Piece>? t_words;

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        var words = t_words ??= [];
        words.Clear();
        Whitespace.PreTokenize(piece, words);
        foreach (var word in words)
            Splitting.Split(word, PunctuationPreTokenizer.IsPunctuation, SplitBehavior.Isolated, output);
    }
}

/// <summary>Pre-tokenizers applied one after another, each to every piece the previous one produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public IReadOnlyList<IPreTokenizer> Steps => steps;

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        var current = new List<Piece> { piece };
        var next = new List<Piece>();
        foreach (var step in steps)
        {
            next.Clear();
            foreach (var p in current)
                step.PreTokenize(p, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }
}
