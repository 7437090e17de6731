using System.Runtime.InteropServices;

namespace Minnow.Tensors.Kernels;

/// <summary>Work on the index range [start, end).</summary>
public delegate void RangeAction(int start, int end);

/// <summary>
/// A fixed set of worker threads for the many short parallel sections of a forward pass (a decode step dispatches
/// about a hundred, each of a few hundred microseconds). A dispatch publishes the work by bumping a generation counter
/// that spinning workers watch, so it costs a couple of cache-line transfers (well under a microsecond) instead of the
/// tens of microseconds of waking a blocked thread. Spinning workers yield the core every ~50 µs (when the VM or other
/// processes leave us fewer cores than threads, a worker that never yields can keep the thread we wait for off the
/// core for a whole time slice) and block after ~2 ms without work, so an idle model costs no CPU.
/// The calling thread always does the first share of the work itself.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Spin this long without work before blocking.</summary>
    private const long SpinMilliseconds = 2;
    /// <summary>Spin iterations between yields (each iteration is one short pause, ~10-40 ns).</summary>
    private const int SpinsPerYield = 2048;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly WorkerFlags[] _flags;
    private readonly Shared _shared = new();
    private RangeAction? _action;
    private int _count;
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
        _flags = new WorkerFlags[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            _flags[i] = new WorkerFlags();
            int index = i;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"minnow-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>A pool with as many threads as the machine has cores.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>
    /// Splits [0, count) into one contiguous share per thread and runs <paramref name="action"/> on each; returns
    /// when all shares are done. Shares depend only on count and the thread number, so each thread sees the same
    /// slice of a matrix at every call.
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
        Volatile.Write(ref _shared.Remaining, _threads.Length);
        Interlocked.Increment(ref _shared.Generation);
        for (int i = 0; i < _flags.Length; i++)
            if (Volatile.Read(ref _flags[i].Sleeping) == 1 && Interlocked.Exchange(ref _flags[i].Sleeping, 0) == 1)
                _wake[i].Release();

        RunShare(0);

        for (int spins = 1; Volatile.Read(ref _shared.Remaining) > 0; spins++)
        {
            if (spins % SpinsPerYield == 0)
                Thread.Yield();
            else
                Thread.SpinWait(1);
        }
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
        var flags = _flags[index];
        while (!_disposed)
        {
            long current = Volatile.Read(ref _shared.Generation);
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
                Interlocked.Decrement(ref _shared.Remaining);
                continue;
            }
            if (!SpinUntilWork(seen))
            {
                // Announce sleep (a full fence, so the re-check below cannot be ordered before it), then re-check:
                // a dispatch that bumped the generation before seeing the flag is not missed.
                Interlocked.Exchange(ref flags.Sleeping, 1);
                if (Volatile.Read(ref _shared.Generation) == seen && !_disposed)
                    _wake[index].Wait();
                else if (Interlocked.Exchange(ref flags.Sleeping, 0) == 0)
                    _wake[index].Wait(); // the dispatcher cleared the flag and will release us: consume that release
            }
        }
    }

    /// <summary>Spins (yielding now and then) for about <see cref="SpinMilliseconds"/>; true when new work arrived.</summary>
    private bool SpinUntilWork(long seen)
    {
        long deadline = Environment.TickCount64 + SpinMilliseconds;
        for (int i = 1; ; i++)
        {
            if (Volatile.Read(ref _shared.Generation) != seen || _disposed)
                return true;
            if (i % SpinsPerYield == 0)
            {
                if (Environment.TickCount64 > deadline)
                    return false;
                Thread.Yield();
            }
            else
            {
                Thread.SpinWait(1);
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

    /// <summary>The counters every thread touches, each on its own cache line so a worker's decrement does not evict the generation others spin on.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private sealed class Shared
    {
        [FieldOffset(64)] public long Generation;
        [FieldOffset(128)] public int Remaining;
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private sealed class WorkerFlags
    {
        [FieldOffset(64)] public int Sleeping;
    }
}
