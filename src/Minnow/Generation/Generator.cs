using System.Diagnostics;
using System.Runtime.CompilerServices;
using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Generation;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model emitted a stop token (EOS) or the text reached a stop sequence.</summary>
    Stop,
    /// <summary>The requested number of new tokens was produced, or the context is full.</summary>
    Length,
}

/// <summary>What to generate and when to stop.</summary>
public sealed record GenerationOptions
{
    /// <summary>New tokens at most (the prompt is not counted).</summary>
    public int MaxTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Text that ends generation when it appears (matched across token boundaries); it is not emitted.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];
    /// <summary>Ids that end generation (not emitted as text).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];
    /// <summary>Leave special tokens (BOS, chat markers…) out of the streamed text, as chat engines do.</summary>
    public bool SkipSpecialTokens { get; init; } = true;
}

/// <summary>One generated token and the text it completed (empty while a multi-byte character or a possible stop sequence is pending).</summary>
public readonly record struct GeneratedToken(int Id, string Text);

/// <summary>Counts and timings of one generation, filled as it runs.</summary>
public sealed class GenerationStats
{
    public int PromptTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    public double PrefillSeconds { get; internal set; }
    /// <summary>Time from the end of the prefill to the last generated token (the first token's sampling included).</summary>
    public double DecodeSeconds { get; internal set; }
    public FinishReason? FinishReason { get; internal set; }
    /// <summary>The ids generated so far, in order.</summary>
    public List<int> GeneratedIds { get; } = [];

    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptTokens / PrefillSeconds : 0;
    /// <summary>Tokens after the first (each needs one decode forward) per second.</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 && GeneratedTokens > 1 ? (GeneratedTokens - 1) / DecodeSeconds : 0;
}

/// <summary>
/// Autoregressive generation: prefill the prompt as one batch, then sample and feed one token at a time,
/// streaming each token with its text. Cancellation stops between tokens.
/// </summary>
public sealed class Generator(ILanguageModel model, ITokenizer? tokenizer = null)
{
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        stats ??= new GenerationStats();
        if (prompt.Count == 0)
            throw new InvalidInputException("the prompt is empty: give at least one token");
        if (options.MaxTokens < 0)
            throw new InvalidInputException($"max tokens must be ≥ 0, got {options.MaxTokens}");
        if (prompt.Count > model.Config.ContextLength)
            throw new ContextLengthException(prompt.Count, model.Config.ContextLength);
        if (options.StopSequences.Count > 0 && tokenizer is null)
            throw new InvalidInputException("stop sequences need a tokenizer");

        var state = model.CreateState();
        var sampler = new Sampler(options.Sampling);
        var logits = new float[model.Config.VocabSize];
        var history = new List<int>(prompt);
        var stopText = new StopSequenceMatcher(options.StopSequences);
        var decoder = tokenizer?.CreateIncrementalDecoder(options.SkipSpecialTokens);
        stats.PromptTokens = prompt.Count;

        var clock = Stopwatch.StartNew();
        model.Forward(state, history.ToArray(), logits);
        stats.PrefillSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        await Task.Yield();

        for (int generated = 0; ; generated++)
        {
            if (generated >= options.MaxTokens || state.Position >= state.ContextLength)
            {
                stats.FinishReason = FinishReason.Length;
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            var historySpan = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history);
            int next = sampler.Sample(logits, historySpan, historySpan[prompt.Count..]);
            history.Add(next);
            stats.GeneratedIds.Add(next);
            stats.GeneratedTokens = generated + 1;
            stats.DecodeSeconds = clock.Elapsed.TotalSeconds;
            if (options.StopTokens.Contains(next))
            {
                stats.FinishReason = FinishReason.Stop;
                yield return new GeneratedToken(next, stopText.Flush());
                yield break;
            }
            string text = decoder is null ? "" : stopText.Push(decoder.Push(next));
            if (stopText.Stopped)
            {
                stats.FinishReason = FinishReason.Stop;
                yield return new GeneratedToken(next, text);
                yield break;
            }
            bool lastOne = generated + 1 >= options.MaxTokens || state.Position >= state.ContextLength;
            if (lastOne && decoder is not null)
                text += stopText.Push(decoder.Flush()) + stopText.Flush();
            yield return new GeneratedToken(next, text);
            if (!lastOne)
                model.Forward(state, [next], logits);
            stats.DecodeSeconds = clock.Elapsed.TotalSeconds;
        }
    }
}

/// <summary>
/// Finds stop sequences in streamed text. Text that could still be the start of a stop sequence is held back
/// until it is known not to be, so a stop sequence split over several tokens is never emitted.
/// </summary>
public sealed class StopSequenceMatcher(IReadOnlyList<string> stops)
{
    private string _held = "";

    public bool Stopped { get; private set; }

    /// <summary>Adds text; returns what can be emitted now.</summary>
    public string Push(string text)
    {
        if (stops.Count == 0)
            return text;
        if (Stopped)
            return "";
        string buffer = _held + text;
        int cut = -1;
        foreach (var stop in stops)
        {
            if (stop.Length == 0) continue;
            int at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
                cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _held = "";
            return buffer[..cut];
        }
        int keep = 0;
        foreach (var stop in stops)
            for (int len = Math.Min(stop.Length - 1, buffer.Length); len > keep; len--)
                if (buffer.AsSpan(buffer.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                {
                    keep = len;
                    break;
                }
        _held = buffer[^keep..];
        return buffer[..^keep];
    }

    /// <summary>Releases held text at the end of generation.</summary>
    public string Flush()
    {
        string held = _held;
        _held = "";
        return Stopped ? "" : held;
    }
}
