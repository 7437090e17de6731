namespace Minnow.Tensors.Kernels;

/// <summary>Work on the index range [start, end).</summary>
public delegate void RangeAction(int start, int end);

/// <summary>
/// A fixed set of worker threads for the many short parallel sections of a forward pass (one per matrix).
/// Workers spin briefly between sections, because a decode step dispatches hundreds of them and waking a
/// blocked thread costs tens of microseconds; they yield while spinning (so a VM that takes a core away does
/// not stall us for a time slice) and block after a short idle period so an idle model costs no CPU.
/// The calling thread always does the first share of the work itself.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private RangeAction? _action;
    private int _count;
    private long _generation;
    private int _remaining;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>Total threads working on a section, including the caller.</summary>
    public int Threads { get; }

    public WorkerPool(int threads)
    {
        if (threads < 1)
            throw new InvalidInputException($"thread count must be at least 1, got {threads}");
        Threads = threads;
        _threads = new Thread[threads - 1];
        _wake = new SemaphoreSlim[threads - 1];
        _sleeping = new int[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"minnow-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>A pool with as many threads as the machine has cores.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>
    /// Splits [0, count) into one contiguous share per thread and runs <paramref name="action"/> on each; returns
    /// when all shares are done. Shares are deterministic for a given count and thread number.
    /// </summary>
    public void For(int count, RangeAction action)
    {
        if (count <= 0)
            return;
        if (Threads == 1 || count == 1)
        {
            action(0, count);
            return;
        }
        _action = action;
        _count = count;
        _failure = null;
        Volatile.Write(ref _remaining, _threads.Length);
        Interlocked.Increment(ref _generation);
        for (int i = 0; i < _threads.Length; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) == 1)
                _wake[i].Release();

        RunShare(0);

        var spinner = new SpinWait();
        while (Volatile.Read(ref _remaining) > 0)
            spinner.SpinOnce(sleep1Threshold: -1);
        _action = null;
        if (_failure is not null)
            throw new AggregateException("a worker thread failed", _failure);
    }

    private void RunShare(int share)
    {
        int count = _count;
        int start = (int)((long)count * share / Threads);
        int end = (int)((long)count * (share + 1) / Threads);
        if (start < end)
            _action!(start, end);
    }

    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (!_disposed)
        {
            long current = Volatile.Read(ref _generation);
            if (current != seen)
            {
                seen = current;
                try
                {
                    RunShare(index + 1);
                }
                catch (Exception e)
                {
                    _failure = e;
                }
                Interlocked.Decrement(ref _remaining);
                continue;
            }
            if (!SpinUntilWork(seen))
            {
                Volatile.Write(ref _sleeping[index], 1);
                if (Volatile.Read(ref _generation) == seen && !_disposed)
                    _wake[index].Wait();
                Volatile.Write(ref _sleeping[index], 0);
            }
        }
    }

    /// <summary>Spins (yielding now and then) for about a millisecond; true when new work arrived.</summary>
    private bool SpinUntilWork(long seen)
    {
        long deadline = Environment.TickCount64 + 2;
        for (int i = 0; ; i++)
        {
            if (Volatile.Read(ref _generation) != seen || _disposed)
                return true;
            if ((i & 63) == 63)
            {
                if (Environment.TickCount64 > deadline)
                    return false;
                Thread.Yield();
            }
            else
            {
                Thread.SpinWait(30);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var w in _wake)
            w.Release();
        foreach (var t in _threads)
            t.Join();
        foreach (var w in _wake)
            w.Dispose();
    }
}
