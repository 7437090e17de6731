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
        var sequence = new GenerationSequence(model, tokenizer, prompt, options, stats);
        sequence.Prefill();
        await Task.Yield();
        while (sequence.TryNext(out var token, cancellationToken))
        {
            yield return token;
            if (sequence.IsFinished)
                yield break;
            sequence.FeedLast();
        }
    }
}

/// <summary>
/// One generation driven a step at a time, so a caller can interleave many sequences over one model (the chat
/// engine does). <see cref="Generator"/> is the same loop run to the end: <see cref="Prefill"/>, then
/// <see cref="TryNext"/> and <see cref="FeedLast"/> until <see cref="IsFinished"/>.
/// </summary>
public sealed class GenerationSequence
{
    private readonly ILanguageModel _model;
    private readonly GenerationOptions _options;
    private readonly InferenceState _state;
    private readonly Sampler _sampler;
    private readonly float[] _logits;
    private readonly List<int> _history;
    private readonly int _promptLength;
    private readonly StopSequenceMatcher _stopText;
    private readonly IncrementalDecoder? _decoder;
    private readonly Stopwatch _clock = new();
    private int _generated;

    /// <summary>Checks the request and allocates the sequence's KV cache (<paramref name="contextLength"/> positions, default the model's).</summary>
    public GenerationSequence(ILanguageModel model, ITokenizer? tokenizer, IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, int? contextLength = null)
    {
        Stats = stats ?? new GenerationStats();
        int context = contextLength ?? model.Config.ContextLength;
        if (prompt.Count == 0)
            throw new InvalidInputException("the prompt is empty: give at least one token");
        if (options.MaxTokens < 0)
            throw new InvalidInputException($"max tokens must be ≥ 0, got {options.MaxTokens}");
        if (prompt.Count > context)
            throw new ContextLengthException(prompt.Count, context);
        if (options.StopSequences.Count > 0 && tokenizer is null)
            throw new InvalidInputException("stop sequences need a tokenizer");
        _model = model;
        _options = options;
        _sampler = new Sampler(options.Sampling);
        _state = model.CreateState(context);
        _logits = new float[model.Config.VocabSize];
        _history = new List<int>(prompt);
        _promptLength = prompt.Count;
        _stopText = new StopSequenceMatcher(options.StopSequences);
        _decoder = tokenizer?.CreateIncrementalDecoder(options.SkipSpecialTokens);
        Stats.PromptTokens = prompt.Count;
    }

    public GenerationStats Stats { get; }

    /// <summary>True once the last token has been returned (stop token, stop sequence, max tokens or a full context).</summary>
    public bool IsFinished { get; private set; }

    /// <summary>Runs the prompt through the model as one batch.</summary>
    public void Prefill()
    {
        _clock.Restart();
        _model.Forward(_state, _history.ToArray(), _logits);
        Stats.PrefillSeconds = _clock.Elapsed.TotalSeconds;
        _clock.Restart();
    }

    /// <summary>
    /// Samples the next token from the current logits. Returns false, generating nothing, when the sequence already
    /// reached its length; <see cref="IsFinished"/> is set when the returned token is the last one.
    /// </summary>
    public bool TryNext(out GeneratedToken token, CancellationToken cancellationToken = default)
    {
        token = default;
        if (IsFinished)
            return false;
        if (_generated >= _options.MaxTokens || _state.Position >= _state.ContextLength)
        {
            Stats.FinishReason = FinishReason.Length;
            IsFinished = true;
            return false;
        }
        cancellationToken.ThrowIfCancellationRequested();
        var historySpan = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_history);
        int next = _sampler.Sample(_logits, historySpan, historySpan[_promptLength..]);
        _history.Add(next);
        _generated++;
        Stats.GeneratedIds.Add(next);
        Stats.GeneratedTokens = _generated;
        Stats.DecodeSeconds = _clock.Elapsed.TotalSeconds;
        if (_options.StopTokens.Contains(next))
        {
            Stats.FinishReason = FinishReason.Stop;
            IsFinished = true;
            token = new GeneratedToken(next, _stopText.Flush());
            return true;
        }
        string text = _decoder is null ? "" : _stopText.Push(_decoder.Push(next));
        if (_stopText.Stopped)
        {
            Stats.FinishReason = FinishReason.Stop;
            IsFinished = true;
            token = new GeneratedToken(next, text);
            return true;
        }
        bool lastOne = _generated >= _options.MaxTokens || _state.Position >= _state.ContextLength;
        if (lastOne)
        {
            if (_decoder is not null)
                text += _stopText.Push(_decoder.Flush()) + _stopText.Flush();
            Stats.FinishReason = FinishReason.Length;
            IsFinished = true;
        }
        token = new GeneratedToken(next, text);
        return true;
    }

    /// <summary>Feeds the token <see cref="TryNext"/> returned to the model, computing the logits of the one after it.</summary>
    public void FeedLast()
    {
        if (IsFinished)
            throw new InvalidOperationException("the sequence is finished");
        _model.Forward(_state, [_history[^1]], _logits);
        Stats.DecodeSeconds = _clock.Elapsed.TotalSeconds;
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
