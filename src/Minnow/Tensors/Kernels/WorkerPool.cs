using System.Runtime.InteropServices;

namespace Minnow.Tensors.Kernels;

/// <summary>Work on the index range [start, end).</summary>
public delegate void RangeAction(int start, int end);

/// <summary>
/// A fixed set of worker threads for the many short parallel sections of a forward pass (a decode step dispatches
/// about fifty, each of a few hundred microseconds).
/// <para>
/// Dispatch: the caller publishes the work by bumping a generation counter that spinning workers watch, so it costs a
/// couple of cache-line transfers (well under a microsecond) instead of the tens of microseconds of waking a blocked
/// thread. Spinning workers yield the core every few thousand polls (when other processes leave us fewer cores than
/// threads, a worker that never yields can keep the thread we wait for off the core for a whole time slice) and block
/// after ~2 ms without work, so an idle model costs no CPU.
/// </para>
/// <para>
/// Balance: [0, count) is cut into one contiguous share per thread (so each thread reads the same slice of a matrix
/// at every call), and each share into a few chunks claimed one at a time. A thread that finishes its share takes
/// the unclaimed chunks of the others, so a thread the OS has descheduled delays a section by at most the chunk it
/// holds, not its whole share. Which thread runs a chunk never changes what it computes, so results are the same for
/// any thread count and any timing.
/// </para>
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Spin this long without work before blocking.</summary>
    private const long SpinMilliseconds = 2;
    /// <summary>Polls between yields (each poll is one short pause, ~10-40 ns).</summary>
    private const int SpinsPerYield = 2048;
    /// <summary>Polls before a worker may block, whatever the clock says (~1 ms of actual spinning).</summary>
    private const int MinSpinsBeforeSleep = 32 * SpinsPerYield;
    /// <summary>Chunks per thread share: enough to rebalance around a stalled thread, few enough to cost nothing.</summary>
    private const int ChunksPerShare = 4;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    /// <summary>Per share (index 0 is the caller's): its claim cursor, end, units done, and the worker's sleep flag.</summary>
    private readonly Slot[] _slots;
    private readonly Shared _shared = new();
    private RangeAction? _action;
    private int _chunk;
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
        _slots = new Slot[threads];
        for (int i = 0; i < threads; i++)
            _slots[i] = new Slot();
        for (int i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int share = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(share)) { IsBackground = true, Name = $"minnow-worker-{share}" };
            _threads[i].Start();
        }
    }

    /// <summary>A pool with as many threads as the machine has cores.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>
    /// Runs <paramref name="action"/> over disjoint ranges covering [0, count) exactly once, on all threads, and returns
    /// when all are done. The caller must not assume anything about which thread runs which range.
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Only this thread writes the generation; its low 32 bits tag the cursors of this dispatch, so a worker that
        // wakes up late (still holding an older generation) can never claim a chunk of this one.
        long generation = _shared.Generation + 1;
        int tag = (int)generation;
        _action = action;
        _chunk = Math.Max(1, count / (Threads * ChunksPerShare));
        _failure = null;
        for (int i = 0; i < Threads; i++)
        {
            var slot = _slots[i];
            // The cursor with the new tag goes first, as a full fence, and only then the new end. A worker still
            // finishing the last dispatch reads either the old cursor and the old end (nothing left to claim) or a
            // cursor whose tag is not its own (it stops). Written the other way round, it could pair its own, exhausted
            // cursor with this dispatch's larger end, claim the difference and run the previous action on indices past
            // that share: work done twice (or out of range), and its count credited to this dispatch.
            Interlocked.Exchange(ref slot.Cursor, Pack(tag, (int)((long)count * i / Threads)));
            slot.End = (int)((long)count * (i + 1) / Threads);
            slot.Done = 0;
        }
        Interlocked.Exchange(ref _shared.Generation, generation);
        for (int i = 1; i < Threads; i++)
            if (Volatile.Read(ref _slots[i].Sleeping) == 1 && Interlocked.Exchange(ref _slots[i].Sleeping, 0) == 1)
                _wake[i - 1].Release();

        Work(0, tag, action, _chunk);

        for (int spins = 1; DoneUnits() < count; spins++)
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

    private static long Pack(int tag, int position) => ((long)tag << 32) | (uint)position;

    private long DoneUnits()
    {
        long done = 0;
        foreach (var slot in _slots)
            done += Volatile.Read(ref slot.Done);
        return done;
    }

    /// <summary>Claims and runs chunks of this thread's own share, then of the others' shares, until none is left.</summary>
    private void Work(int self, int tag, RangeAction action, int chunk)
    {
        var mine = _slots[self];
        for (int k = 0; k < Threads; k++)
        {
            var slot = _slots[(self + k) % Threads];
            while (true)
            {
                long cursor = Volatile.Read(ref slot.Cursor);
                if ((int)(cursor >> 32) != tag)
                    return; // a stale generation: this dispatch is over
                int start = (int)cursor, end = slot.End;
                if (start >= end)
                    break;
                int stop = Math.Min(start + chunk, end);
                if (Interlocked.CompareExchange(ref slot.Cursor, Pack(tag, stop), cursor) != cursor)
                    continue;
                try
                {
                    action(start, stop);
                }
                catch (Exception e)
                {
                    _failure = e;
                }
                Volatile.Write(ref mine.Done, mine.Done + (stop - start));
            }
        }
    }

    private void WorkerLoop(int share)
    {
        long seen = 0;
        var slot = _slots[share];
        while (!_disposed)
        {
            long current = Volatile.Read(ref _shared.Generation);
            if (current != seen)
            {
                seen = current;
                // Read after the generation: if this dispatch is already over, these belong to a later one, and the
                // tag check on every claim makes Work return without running anything.
                var action = _action;
                int chunk = _chunk;
                if (action is not null)
                    Work(share, (int)current, action, chunk);
                continue;
            }
            if (!SpinUntilWork(seen))
            {
                // Announce sleep (a full fence, so the re-check below cannot be ordered before it), then re-check:
                // a dispatch that bumped the generation before seeing the flag is not missed.
                Interlocked.Exchange(ref slot.Sleeping, 1);
                if (Volatile.Read(ref _shared.Generation) == seen && !_disposed)
                    _wake[share - 1].Wait();
                else if (Interlocked.Exchange(ref slot.Sleeping, 0) == 0)
                    _wake[share - 1].Wait(); // the dispatcher cleared the flag and will release us: consume that release
            }
        }
    }

    /// <summary>
    /// Spins (yielding now and then) for about <see cref="SpinMilliseconds"/>; true when new work arrived. The deadline
    /// counts only while this thread actually spins (a minimum number of polls as well as wall time): a worker the OS
    /// kept off the core for longer than the deadline would otherwise go to sleep the moment it got the core back, and
    /// every dispatch after that would pay for waking it.
    /// </summary>
    private bool SpinUntilWork(long seen)
    {
        long deadline = Environment.TickCount64 + SpinMilliseconds;
        for (int i = 1; ; i++)
        {
            if (Volatile.Read(ref _shared.Generation) != seen || _disposed)
                return true;
            if (i % SpinsPerYield == 0)
            {
                if (i >= MinSpinsBeforeSleep && Environment.TickCount64 > deadline)
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

    /// <summary>The generation every worker polls, alone on its cache line.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private sealed class Shared
    {
        [FieldOffset(64)] public long Generation;
    }

    /// <summary>One thread's share, on its own cache lines so claims and progress of one thread do not disturb another.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private sealed class Slot
    {
        [FieldOffset(64)] public long Cursor;
        [FieldOffset(72)] public int End;
        [FieldOffset(128)] public long Done;
        [FieldOffset(136)] public int Sleeping;
    }
}
