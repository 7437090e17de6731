namespace Minnow.Server;

/// <summary>
/// Bounds the work in the server: at most <c>maxConcurrent</c> generation or embedding requests run at once, at
/// most <c>queue</c> more wait for a slot, and a request beyond both is refused at once (HTTP 503) rather than left
/// to time out.
/// </summary>
internal sealed class AdmissionGate(int maxConcurrent, int queue)
{
    private readonly SemaphoreSlim _slots = new(maxConcurrent, maxConcurrent);
    private int _admitted;

    public int MaxConcurrent => maxConcurrent;
    public int Queue => queue;
    /// <summary>Requests holding a slot now.</summary>
    public int Running => maxConcurrent - _slots.CurrentCount;
    /// <summary>Requests waiting for a slot now.</summary>
    public int Waiting => Math.Max(0, Volatile.Read(ref _admitted) - Running);

    /// <summary>Waits for a slot; null when the queue is full. Dispose the lease when the request ends.</summary>
    public async Task<IDisposable?> EnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > maxConcurrent + queue)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        return new Lease(this);
    }

    private sealed class Lease(AdmissionGate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
                return;
            gate._slots.Release();
            Interlocked.Decrement(ref gate._admitted);
        }
    }
}
