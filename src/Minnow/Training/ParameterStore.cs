using Minnow.Tensors;

namespace Minnow.Training;

/// <summary>
/// One named parameter of a <see cref="ParameterStore"/>: a view of the store's flat value buffer and the same-shaped
/// view of its flat gradient buffer.
/// </summary>
public sealed class Parameter
{
    internal Parameter(string name, int[] shape, long offset, Tensor values, Tensor gradients)
    {
        Name = name;
        Shape = shape;
        Offset = offset;
        Value = values.Slice(name, offset, shape);
        Gradient = gradients.Slice(name, offset, shape);
        WeightDecay = shape.Length >= 2;
    }

    /// <summary>The checkpoint name (HF naming, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>).</summary>
    public string Name { get; }
    public int[] Shape { get; }
    /// <summary>Position of the first element in the store's flat buffers.</summary>
    public long Offset { get; }
    public int Length => (int)Value.ElementCount;
    /// <summary>The values (what the models read), a view into the store.</summary>
    public Tensor Value { get; }
    /// <summary>The gradient accumulated by backward passes since the last <see cref="ParameterStore.ZeroGradients"/>.</summary>
    public Tensor Gradient { get; }
    /// <summary>
    /// False for a frozen parameter: backward passes skip its gradient (it stays zero), clipping ignores it and
    /// optimizers leave it bit-identical.
    /// </summary>
    public bool Trainable { get; set; } = true;
    /// <summary>Whether AdamW's decoupled weight decay applies; by default only to matrices (2-D), never to norms and biases.</summary>
    public bool WeightDecay { get; set; }

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]{(Trainable ? "" : " frozen")}";
}

/// <summary>
/// All parameters of a model in one contiguous fp32 buffer, and all their gradients in a second one with the same
/// layout (as llm.c does), so zeroing, clipping and optimizer updates are loops over a few long spans. Models read
/// the values through tensor views (<see cref="Parameter.Value"/>), so an inference model can run on the very same memory.
/// </summary>
public sealed class ParameterStore
{
    private readonly Tensor _values;
    private readonly Tensor _gradients;
    private readonly Parameter[] _parameters;
    private readonly Dictionary<string, Parameter> _byName;

    /// <summary>A zero-filled store holding one parameter per (name, shape), laid out in the order given.</summary>
    public ParameterStore(IEnumerable<(string Name, int[] Shape)> layout)
    {
        var entries = layout.ToList();
        long count = 0;
        foreach (var (_, shape) in entries)
            count += shape.Aggregate(1L, (a, d) => a * d);
        if (count > int.MaxValue)
            throw new InvalidInputException($"{count} parameters do not fit one flat buffer (at most {int.MaxValue})");
        _values = Tensor.Zeros("parameters", (int)count);
        _gradients = Tensor.Zeros("gradients", (int)count);
        _parameters = new Parameter[entries.Count];
        _byName = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        long offset = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            var (name, shape) = entries[i];
            var p = new Parameter(name, shape, offset, _values, _gradients);
            if (!_byName.TryAdd(name, p))
                throw new InvalidInputException($"parameter '{name}' is declared twice");
            _parameters[i] = p;
            offset += p.Length;
        }
        Count = count;
    }

    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Total number of values (trainable or not).</summary>
    public long Count { get; }

    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new InvalidInputException($"no parameter named '{name}'");

    /// <summary>The parameter named <paramref name="name"/>, or null.</summary>
    public Parameter? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// The gradient of <paramref name="value"/> if it is a view inside this store's values (a parameter, or part of one
    /// such as GPT-2's query rows of c_attn, or several adjacent ones) of which at least one parameter is trainable: the
    /// same view of the gradient buffer. Null for any other tensor and for frozen parameters.
    /// </summary>
    public Tensor? GradientOf(Tensor value)
    {
        long bytes = value.Data - _values.Data;
        if (value.DType != DType.F32 || bytes < 0 || bytes + value.ByteLength > _values.ByteLength)
            return null;
        long first = bytes / sizeof(float), end = first + value.ElementCount;
        // The parameters overlapping [first, end): binary search for the one holding the first element.
        int lo = 0, hi = _parameters.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_parameters[mid].Offset <= first) lo = mid; else hi = mid - 1;
        }
        for (int i = lo; i < _parameters.Length && _parameters[i].Offset < end; i++)
            if (_parameters[i].Trainable)
                return _gradients.Slice(value.Name, first, value.Shape);
        return null;
    }

    /// <summary>Every value, flat.</summary>
    public Span<float> Values => _values.AsFloats();

    /// <summary>Every gradient, flat, in the layout of <see cref="Values"/>.</summary>
    public Span<float> Gradients => _gradients.AsFloats();

    public IEnumerable<Parameter> Trainable => _parameters.Where(p => p.Trainable);

    /// <summary>Freezes (or unfreezes) every parameter whose name matches; returns how many matched.</summary>
    public int SetTrainable(Func<string, bool> nameMatches, bool trainable)
    {
        int matched = 0;
        foreach (var p in _parameters)
            if (nameMatches(p.Name))
            {
                p.Trainable = trainable;
                matched++;
            }
        return matched;
    }

    /// <summary>Clears every gradient (call once per optimizer step, before the first micro-batch).</summary>
    public void ZeroGradients() => Gradients.Clear();

    /// <summary>Bytes of the value and gradient buffers.</summary>
    public long Bytes => _values.ByteLength + _gradients.ByteLength;
}
