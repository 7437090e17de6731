using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Chat;

/// <summary>
/// Runs every generation and embedding of one loaded model on one inference thread. Each round it first admits
/// new work (prefilling new prompts, computing embeddings), then gives every active sequence one decode step, so
/// concurrent conversations advance together, share one copy of the weights and never mix outputs. Callers await
/// tokens asynchronously: no thread-pool thread blocks on the model, and a cancelled or abandoned generation is
/// dropped at its next step.
/// </summary>
/// <remarks>
/// Decodes are not batched across sequences: each active sequence runs its own one-token forward pass. Batching
/// would need a multi-sequence forward in the model; see the measurement in README ("Serving and chat").
/// </remarks>
public sealed class InferenceEngine : IDisposable
{
    private readonly ConcurrentQueue<Job> _inbox = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly List<GenerationJob> _active = [];
    private readonly Thread _thread;
    private readonly bool _ownsModel;
    private volatile bool _disposed;

    /// <summary>
    /// An engine over <paramref name="model"/>. <paramref name="contextLength"/> caps each sequence's KV cache
    /// (default: the model's context). With <paramref name="ownsModel"/>, disposing the engine disposes the model.
    /// </summary>
    public InferenceEngine(LoadedModel model, int? contextLength = null, bool ownsModel = false)
    {
        int modelContext = model.Model.Config.ContextLength;
        if (contextLength is int c && (c < 1 || c > modelContext))
            throw new InvalidInputException($"context length must be between 1 and the model's {modelContext}, got {c}");
        Model = model;
        ContextLength = contextLength ?? modelContext;
        _ownsModel = ownsModel;
        _thread = new Thread(Run) { IsBackground = true, Name = "minnow-inference" };
        _thread.Start();
    }

    public LoadedModel Model { get; }

    /// <summary>Positions each sequence may use (prompt plus generated tokens).</summary>
    public int ContextLength { get; }

    public EngineCounters Counters { get; } = new();

    /// <summary>
    /// Generates from <paramref name="prompt"/> on the inference thread, streaming tokens as <see cref="Generator"/>
    /// does (same options, same stats, same tokens for the same seed). Bad input throws on the first
    /// <c>MoveNextAsync</c>; cancelling <paramref name="cancellationToken"/> or disposing the enumerator stops the
    /// generation at its next step.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var job = new GenerationJob(new GenerationSequence(Model.Model, Model.Tokenizer, prompt, options, stats, ContextLength), this);
        using var registration = cancellationToken.Register(job.Cancel);
        Enqueue(job);
        try
        {
            await foreach (var token in job.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return token;
        }
        finally
        {
            // Reached early when the caller stops reading or is cancelled; a no-op once the job has finished.
            job.Cancel();
        }
    }

    /// <summary>Runs <paramref name="work"/> (e.g. a hidden-state forward pass) on the inference thread, between decode rounds.</summary>
    public Task<T> RunAsync<T>(Func<ILanguageModel, T> work, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var job = new WorkJob<T>(work, cancellationToken);
        Enqueue(job);
        return job.Task;
    }

    private void Enqueue(Job job)
    {
        _inbox.Enqueue(job);
        _wake.Set();
        if (_disposed && _inbox.TryDequeue(out var late))
            late.Fail(new ObjectDisposedException(nameof(InferenceEngine)));
    }

    private void Run()
    {
        while (!_disposed)
        {
            while (_inbox.TryDequeue(out var job))
                Admit(job);
            if (_active.Count == 0)
            {
                _wake.WaitOne();
                continue;
            }
            for (int i = 0; i < _active.Count; i++)
                if (!_active[i].Step())
                {
                    _active.RemoveAt(i--);
                    Counters.SetActive(_active.Count);
                }
        }
        var stopped = new ObjectDisposedException(nameof(InferenceEngine));
        foreach (var job in _active)
            job.Fail(stopped);
        _active.Clear();
        while (_inbox.TryDequeue(out var job))
            job.Fail(stopped);
    }

    private void Admit(Job job)
    {
        if (job is GenerationJob generation)
        {
            if (generation.Start())
            {
                _active.Add(generation);
                Counters.SetActive(_active.Count);
            }
        }
        else
            job.Execute(Model.Model);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _wake.Set();
        _thread.Join();
        // _wake stays undisposed: a caller may still cancel (and so signal) a finished job after this.
        if (_ownsModel)
            Model.Dispose();
    }

    private abstract class Job
    {
        public abstract void Execute(ILanguageModel model);
        public abstract void Fail(Exception error);
    }

    private sealed class WorkJob<T>(Func<ILanguageModel, T> work, CancellationToken cancellationToken) : Job
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<T> Task => _result.Task;

        public override void Execute(ILanguageModel model)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                _result.TrySetCanceled(cancellationToken);
                return;
            }
            try
            {
                _result.TrySetResult(work(model));
            }
            catch (Exception e)
            {
                _result.TrySetException(e);
            }
        }

        public override void Fail(Exception error) => _result.TrySetException(error);
    }

    /// <summary>One generation: its sequence, and the channel its tokens travel through to the caller.</summary>
    private sealed class GenerationJob(GenerationSequence sequence, InferenceEngine engine) : Job
    {
        // Unbounded: a token is a few bytes and a generation is bounded by its context, so a slow reader never stalls the other sequences.
        private readonly Channel<GeneratedToken> _channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private int _cancelled;
        private int _done;

        public ChannelReader<GeneratedToken> Reader => _channel.Reader;

        public void Cancel()
        {
            if (Volatile.Read(ref _done) == 0 && Interlocked.Exchange(ref _cancelled, 1) == 0)
                engine._wake.Set();
        }

        public override void Execute(ILanguageModel model) => throw new InvalidOperationException("generation jobs are admitted, not executed");

        /// <summary>Prefills the prompt; false when the job ended here (cancelled or failed).</summary>
        public bool Start()
        {
            engine.Counters.OnStarted();
            if (DroppedIfCancelled())
                return false;
            try
            {
                sequence.Prefill();
                return true;
            }
            catch (Exception e)
            {
                Fail(e);
                return false;
            }
        }

        /// <summary>One token: sample it, hand it to the reader, feed it back. False when the job is over.</summary>
        public bool Step()
        {
            if (DroppedIfCancelled())
                return false;
            try
            {
                if (sequence.TryNext(out var token))
                {
                    engine.Counters.OnToken();
                    _channel.Writer.TryWrite(token);
                }
                if (sequence.IsFinished)
                {
                    Finish(null);
                    engine.Counters.OnCompleted();
                    return false;
                }
                sequence.FeedLast();
                return true;
            }
            catch (Exception e)
            {
                Fail(e);
                return false;
            }
        }

        private bool DroppedIfCancelled()
        {
            if (Volatile.Read(ref _cancelled) == 0)
                return false;
            Finish(new OperationCanceledException("the generation was cancelled"));
            engine.Counters.OnCancelled();
            return true;
        }

        public override void Fail(Exception error)
        {
            Finish(error);
            engine.Counters.OnFailed();
        }

        private void Finish(Exception? error)
        {
            Volatile.Write(ref _done, 1);
            _channel.Writer.TryComplete(error);
        }
    }
}

/// <summary>What an <see cref="InferenceEngine"/> has done so far; safe to read from any thread (e.g. a /metrics endpoint).</summary>
public sealed class EngineCounters
{
    private long _started, _completed, _cancelled, _failed, _tokens;
    private int _active;

    /// <summary>Generations admitted to the engine.</summary>
    public long GenerationsStarted => Interlocked.Read(ref _started);
    /// <summary>Generations that ran to a stop token, stop sequence, max tokens or a full context.</summary>
    public long GenerationsCompleted => Interlocked.Read(ref _completed);
    /// <summary>Generations dropped before their end because the caller cancelled or stopped reading (e.g. an HTTP client disconnected).</summary>
    public long GenerationsCancelled => Interlocked.Read(ref _cancelled);
    /// <summary>Generations that ended with an error.</summary>
    public long GenerationsFailed => Interlocked.Read(ref _failed);
    /// <summary>Tokens generated, over all generations.</summary>
    public long TokensGenerated => Interlocked.Read(ref _tokens);
    /// <summary>Generations currently decoding.</summary>
    public int ActiveGenerations => Volatile.Read(ref _active);

    internal void OnStarted() => Interlocked.Increment(ref _started);
    internal void OnCompleted() => Interlocked.Increment(ref _completed);
    internal void OnCancelled() => Interlocked.Increment(ref _cancelled);
    internal void OnFailed() => Interlocked.Increment(ref _failed);
    internal void OnToken() => Interlocked.Increment(ref _tokens);
    internal void SetActive(int count) => Volatile.Write(ref _active, count);
}
