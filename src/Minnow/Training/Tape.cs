using System.Diagnostics;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Training;

/// <summary>An activation on a <see cref="Tape"/>: a [rows, cols] block of floats with a gradient of the same shape.</summary>
public readonly record struct Act(int Id, int Rows, int Cols)
{
    public int Length => Rows * Cols;
}

/// <summary>
/// Layer-level reverse-mode autodiff, as llm.c does it by hand: each operation (linear, RMSNorm, attention,
/// cross-entropy…) runs its forward pass at once and records one fused backward function; <see cref="Backward"/> runs
/// them in reverse. There are no per-element nodes. Activations and their gradients live in two arenas that are
/// reused step after step (same shapes, same layout, no allocation after the first step). Parameters are tensors of
/// a bound <see cref="ParameterStore"/>: their gradients accumulate into the store; any other tensor is a constant.
/// Each operation is a partial-class file (Tape.Linear.cs, Tape.Norms.cs, …) holding its forward and backward together.
/// </summary>
public sealed unsafe partial class Tape
{
    private readonly Arena _values = new();
    private readonly Arena _gradients = new();
    private readonly List<Slot> _slots = [];
    private readonly List<GradBuffer> _gradBuffers = [];
    private readonly List<(string Kind, Action Backward)> _backward = [];
    private readonly List<ParameterStore> _stores = [];
    private readonly Dictionary<string, long> _ticks = [];

    /// <summary>Where an activation lives: its values, its gradient buffer (−1 if it needs none), and whether it may still be read.</summary>
    private record struct Slot(nint Value, int GradBuffer, bool Consumed);

    /// <summary>A gradient buffer; several activations share one when their gradients are equal (a residual add's input and output).</summary>
    private record struct GradBuffer(nint Pointer, bool Touched);

    public Tape(WorkerPool pool) => Pool = pool;

    /// <summary>Threads for the kernels.</summary>
    public WorkerPool Pool { get; }

    /// <summary>True (default): operations record backward functions and allocate gradients. False: forward only (evaluation).</summary>
    public bool RecordsGradients { get; set; } = true;

    /// <summary>Parameters of these stores get gradients (if trainable); tensors of no bound store are constants.</summary>
    public void Bind(ParameterStore store) => _stores.Add(store);

    /// <summary>Forgets the previous step's activations (their memory is reused).</summary>
    public void Reset()
    {
        _values.Reset();
        _gradients.Reset();
        _slots.Clear();
        _gradBuffers.Clear();
        _backward.Clear();
    }

    /// <summary>
    /// Adds <paramref name="gradient"/> to the gradient arriving at <paramref name="a"/>: where a backward pass starts
    /// for an output that is not one of the tape's losses (e.g. a loss computed outside the tape).
    /// </summary>
    public void SeedGradient(Act a, ReadOnlySpan<float> gradient)
    {
        if (gradient.Length != a.Length)
            throw new InvalidInputException($"a gradient of {gradient.Length} values for an activation of {a.Length}");
        float* g = GradientTarget(a, out bool accumulate);
        if (g == null)
            throw new InvalidOperationException($"activation {a.Id} does not take a gradient");
        var target = new Span<float>(g, a.Length);
        if (accumulate)
            System.Numerics.Tensors.TensorPrimitives.Add(target, gradient, target);
        else
            gradient.CopyTo(target);
    }

    /// <summary>Runs the recorded backward functions in reverse order, accumulating parameter gradients; then forgets them.</summary>
    public void Backward()
    {
        for (int i = _backward.Count - 1; i >= 0; i--)
        {
            long start = Stopwatch.GetTimestamp();
            _backward[i].Backward();
            Charge(_backward[i].Kind + " backward", start);
        }
        _backward.Clear();
    }

    /// <summary>Bytes held by the activation arena (values saved for the backward pass).</summary>
    public long ActivationBytes => _values.Bytes;

    /// <summary>Bytes held by the activation-gradient arena.</summary>
    public long ActivationGradientBytes => _gradients.Bytes;

    /// <summary>Time spent per operation kind and direction since the last <see cref="ResetTimes"/> (for profiling).</summary>
    public IReadOnlyDictionary<string, TimeSpan> Times => _ticks.ToDictionary(kv => kv.Key, kv => Stopwatch.GetElapsedTime(0, kv.Value));

    public void ResetTimes() => _ticks.Clear();

    /// <summary>Adds the time since <paramref name="start"/> (a <see cref="Stopwatch.GetTimestamp"/>) to <paramref name="kind"/>.</summary>
    internal void Charge(string kind, long start) =>
        _ticks[kind] = _ticks.GetValueOrDefault(kind) + (Stopwatch.GetTimestamp() - start);

    /// <summary>A new activation of [rows, cols]; it gets a gradient buffer if <paramref name="requiresGrad"/> and the tape records gradients.</summary>
    public Act Allocate(int rows, int cols, bool requiresGrad)
    {
        int length = checked(rows * cols);
        int grad = -1;
        if (requiresGrad && RecordsGradients)
        {
            grad = _gradBuffers.Count;
            _gradBuffers.Add(new GradBuffer((nint)_gradients.Take(length), false));
        }
        _slots.Add(new Slot((nint)_values.Take(length), grad, false));
        return new Act(_slots.Count - 1, rows, cols);
    }

    /// <summary>An activation holding a copy of <paramref name="values"/> (an input or a constant; no gradient).</summary>
    public Act Constant(ReadOnlySpan<float> values, int rows, int cols)
    {
        var a = Allocate(rows, cols, requiresGrad: false);
        values.CopyTo(Value(a));
        return a;
    }

    public Span<float> Value(Act a) => new(ValuePointer(a), a.Length);

    /// <summary>The values of <paramref name="a"/>; the pointer is stable until <see cref="Reset"/>.</summary>
    public float* ValuePointer(Act a)
    {
        var slot = _slots[a.Id];
        if (slot.Consumed)
            throw new InvalidOperationException($"activation {a.Id} was consumed in place by a later operation and can no longer be read");
        return (float*)slot.Value;
    }

    /// <summary>Whether gradients flow back into <paramref name="a"/>.</summary>
    public bool RequiresGrad(Act a) => _slots[a.Id].GradBuffer >= 0;

    /// <summary>The gradient that reached <paramref name="a"/> during <see cref="Backward"/>; empty if nothing downstream touched it.</summary>
    public Span<float> Gradient(Act a)
    {
        int g = _slots[a.Id].GradBuffer;
        if (g < 0 || !_gradBuffers[g].Touched)
            return default;
        return new Span<float>((float*)_gradBuffers[g].Pointer, a.Length);
    }

    /// <summary>
    /// Where a backward rule writes <paramref name="a"/>'s gradient contribution. The first contribution in a
    /// backward pass may overwrite (<paramref name="accumulate"/> false, so the buffer is never cleared); later ones add.
    /// Null if <paramref name="a"/> needs no gradient.
    /// </summary>
    internal float* GradientTarget(Act a, out bool accumulate)
    {
        int g = _slots[a.Id].GradBuffer;
        accumulate = false;
        if (g < 0)
            return null;
        var buffer = _gradBuffers[g];
        accumulate = buffer.Touched;
        if (!buffer.Touched)
            _gradBuffers[g] = buffer with { Touched = true };
        return (float*)buffer.Pointer;
    }

    /// <summary>The gradient of <paramref name="a"/> to add into (cleared on first touch); null if it needs none.</summary>
    internal float* ZeroedGradientTarget(Act a)
    {
        float* g = GradientTarget(a, out bool accumulate);
        if (g != null && !accumulate)
            new Span<float>(g, a.Length).Clear();
        return g;
    }

    /// <summary>Gives <paramref name="output"/> the gradient buffer of <paramref name="input"/>: right when d input = d output exactly and nothing reads input afterwards.</summary>
    private void ShareGradient(Act output, Act input)
    {
        _slots[output.Id] = _slots[output.Id] with { GradBuffer = _slots[input.Id].GradBuffer };
        _slots[input.Id] = _slots[input.Id] with { Consumed = true };
    }

    /// <summary>Where the gradient of <paramref name="tensor"/> accumulates, or null for a constant or frozen tensor (or when not recording).</summary>
    internal Tensor? GradientOf(Tensor? tensor)
    {
        if (tensor is null || !RecordsGradients)
            return null;
        foreach (var store in _stores)
            if (store.GradientOf(tensor) is { } gradient)
                return gradient;
        return null;
    }

    /// <summary>Temporaries of one operation (the classifier's row block of logits, an input gradient nobody needs); reused by the next.</summary>
    private readonly PinnedBuffer _scratch = new();

    /// <summary>Per-chunk partial parameter gradients of one operation; reused by the next.</summary>
    private readonly PinnedBuffer _reduction = new();

    private float* Scratch(long length) => _scratch.Take(length);

    /// <summary>Bytes of the operations' temporary buffers.</summary>
    public long ScratchBytes => _scratch.Bytes + _reduction.Bytes;

    /// <summary>Records <paramref name="backward"/> to run during <see cref="Backward"/>, if the tape records gradients.</summary>
    private void Record(string kind, Action backward)
    {
        if (RecordsGradients)
            _backward.Add((kind, backward));
    }

    /// <summary>
    /// A bump allocator over pinned chunks that never move, so pointers stay valid for the whole step. Every step
    /// allocates the same sizes in the same order, so after the first step it reuses the same chunks.
    /// </summary>
    private sealed class Arena
    {
        /// <summary>Floats at the end of every chunk reserved for aligning its start to 64 bytes.</summary>
        private const int Slack = 16;

        private readonly List<float[]> _chunks = [];
        private int _chunk;
        private int _used;
        private long _taken;

        public long Bytes => _chunks.Sum(c => (long)c.Length) * sizeof(float);

        /// <summary>
        /// Starts the next step. After a step that needed several chunks (the first one, which grew the arena), they are
        /// replaced by one chunk of exactly what the step took, so the memory held is what a step needs.
        /// </summary>
        public void Reset()
        {
            if (_chunks.Count > 1 && _taken + Slack <= Array.MaxLength)
            {
                _chunks.Clear();
                _chunks.Add(GC.AllocateUninitializedArray<float>((int)_taken + Slack, pinned: true));
            }
            _chunk = 0;
            _used = 0;
            _taken = 0;
        }

        public float* Take(int length)
        {
            // Keep allocations 64-byte aligned (whole cache lines, aligned vector loads).
            int size = (Math.Max(length, 1) + 15) & ~15;
            while (_chunk < _chunks.Count && _used + size > _chunks[_chunk].Length - Slack)
            {
                _chunk++;
                _used = 0;
            }
            if (_chunk == _chunks.Count)
            {
                long total = _chunks.Sum(c => (long)c.Length);
                int chunkLength = (int)Math.Min(Array.MaxLength - Slack, Math.Max(size, Math.Max(total, 1 << 20)));
                _chunks.Add(GC.AllocateUninitializedArray<float>(chunkLength + Slack, pinned: true));
                _used = 0;
            }
            _taken += size;
            fixed (float* start = _chunks[_chunk])
            {
                float* aligned = (float*)(((nint)start + 63) & ~(nint)63);
                float* p = aligned + _used;
                _used += size;
                return p;
            }
        }
    }

    /// <summary>A grow-only pinned buffer; its contents are undefined after each <see cref="Take"/>.</summary>
    private sealed class PinnedBuffer
    {
        private float[]? _buffer;

        public long Bytes => (_buffer?.Length ?? 0) * (long)sizeof(float);

        public float* Take(long length)
        {
            if (_buffer is null || _buffer.Length < length)
                _buffer = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(length, 16)), pinned: true);
            fixed (float* p = _buffer)
                return p;
        }
    }
}
