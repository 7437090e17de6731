using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Training;

/// <summary>Updates the trainable parameters of a <see cref="ParameterStore"/> from their gradients.</summary>
public interface IOptimizer
{
    /// <summary>One update at learning rate <paramref name="learningRate"/>; frozen parameters are left bit-identical.</summary>
    void Step(float learningRate);

    /// <summary>Updates done so far (set it when resuming from a checkpoint).</summary>
    int StepCount { get; set; }

    /// <summary>The state as named views (<c>adamw.exp_avg.{parameter}</c>…): read them to save a checkpoint, write them to restore one.</summary>
    IReadOnlyList<Tensor> State { get; }

    /// <summary>Bytes of <see cref="State"/>.</summary>
    long StateBytes { get; }
}

/// <summary>
/// What the optimizers share: per-parameter state blocks laid out contiguously for the parameters that were trainable
/// when the optimizer was made (a frozen base model costs no optimizer memory; freeze before making the optimizer — a
/// parameter frozen later is skipped, one unfrozen later is not updated), and a parallel loop over fixed chunks of
/// every trainable parameter (elementwise, so the thread count never changes a result).
/// </summary>
public abstract class Optimizer : IOptimizer
{
    /// <summary>Elements per parallel work item.</summary>
    private const int Chunk = 1 << 16;

    private readonly WorkerPool _pool;
    private readonly (Parameter Parameter, long StateOffset)[] _parameters;
    private readonly (Parameter Parameter, int Start, int Length, long StateOffset)[] _chunks;
    private readonly Tensor[] _state;

    protected Optimizer(ParameterStore store, WorkerPool pool, params string[] stateNames)
    {
        _pool = pool;
        long count = 0;
        var parameters = new List<(Parameter, long)>();
        var chunks = new List<(Parameter, int, int, long)>();
        foreach (var p in store.Trainable)
        {
            parameters.Add((p, count));
            for (int start = 0; start < p.Length; start += Chunk)
                chunks.Add((p, start, Math.Min(Chunk, p.Length - start), count + start));
            count += p.Length;
        }
        _parameters = [.. parameters];
        _chunks = [.. chunks];
        _state = stateNames.Select(name => Tensor.Zeros(name, checked((int)count))).ToArray();
    }

    public int StepCount { get; set; }

    public IReadOnlyList<Tensor> State =>
        _state.SelectMany(s => _parameters.Select(p => s.Slice($"{s.Name}.{p.Parameter.Name}", p.StateOffset, p.Parameter.Shape))).ToList();

    public long StateBytes => _state.Sum(s => s.ByteLength);

    public void Step(float learningRate)
    {
        StepCount++;
        BeginStep(learningRate);
        _pool.For(_chunks.Length, (first, end) =>
        {
            for (int i = first; i < end; i++)
            {
                var (p, start, length, offset) = _chunks[i];
                if (!p.Trainable)
                    continue;
                Update(p, p.Value.AsFloats().Slice(start, length), p.Gradient.AsFloats().Slice(start, length),
                    _state[0].AsFloats().Slice((int)offset, length), _state.Length > 1 ? _state[1].AsFloats().Slice((int)offset, length) : default);
            }
        });
    }

    /// <summary>Computes the step's constants (bias corrections…) once, before the parallel loop.</summary>
    protected abstract void BeginStep(float learningRate);

    /// <summary>Updates one chunk of <paramref name="parameter"/>.</summary>
    protected abstract void Update(Parameter parameter, Span<float> values, ReadOnlySpan<float> gradients, Span<float> state0, Span<float> state1);
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter; PyTorch's torch.optim.AdamW): decoupled weight decay applied first, p ← p·(1 − lr·wd),
/// to parameters with <see cref="Parameter.WeightDecay"/> (matrices by default); then m ← β1·m + (1−β1)·g,
/// v ← β2·v + (1−β2)·g², p ← p − (lr/(1−β1^t))·m/(sqrt(v)/sqrt(1−β2^t) + eps), t counted from 1.
/// </summary>
public sealed class AdamW(ParameterStore store, WorkerPool pool, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f)
    : Optimizer(store, pool, "adamw.exp_avg", "adamw.exp_avg_sq")
{
    private float _lr, _stepSize, _invSqrtBias2;

    protected override void BeginStep(float learningRate)
    {
        _lr = learningRate;
        _stepSize = (float)(learningRate / (1 - Math.Pow(beta1, StepCount)));
        _invSqrtBias2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, StepCount)));
    }

    protected override void Update(Parameter parameter, Span<float> values, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v)
    {
        float decay = parameter.WeightDecay ? 1 - _lr * weightDecay : 1f;
        OptimizerUpdates.AdamW(values, gradients, m, v, decay, beta1, beta2, _stepSize, _invSqrtBias2, eps);
    }
}

/// <summary>
/// SGD with momentum (PyTorch's torch.optim.SGD without dampening or Nesterov): g' = g + wd·p for parameters with
/// <see cref="Parameter.WeightDecay"/> (coupled L2, as PyTorch's SGD does); buf ← momentum·buf + g'; p ← p − lr·buf.
/// </summary>
public sealed class Sgd(ParameterStore store, WorkerPool pool, float momentum = 0.9f, float weightDecay = 0f)
    : Optimizer(store, pool, "sgd.momentum_buffer")
{
    private float _lr;

    protected override void BeginStep(float learningRate) => _lr = learningRate;

    protected override void Update(Parameter parameter, Span<float> values, ReadOnlySpan<float> gradients, Span<float> buffer, Span<float> unused) =>
        OptimizerUpdates.Sgd(values, gradients, buffer, _lr, momentum, parameter.WeightDecay ? weightDecay : 0f);
}
