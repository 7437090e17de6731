using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Models;

/// <summary>What a forward pass writes for the caller.</summary>
public enum ForwardOutput
{
    /// <summary>Logits of the last token only [V] (generation).</summary>
    LastLogits,
    /// <summary>Logits of every token [n, V] (scoring, training).</summary>
    AllLogits,
    /// <summary>Final-normalised hidden states of every token [n, D] (embeddings).</summary>
    AllHidden,
}

/// <summary>
/// What every decoder-only family shares, so each family file holds only its architecture: argument checks, the
/// lock that serialises forward calls on shared weights, chunking of long prompts, the worker pool, parameter and
/// bytes-per-token counts. A family implements <see cref="ForwardChunk"/>, which reads top to bottom.
/// </summary>
public abstract class DecoderModel : ILanguageModel
{
    /// <summary>Tokens per forward chunk: bounds scratch memory for long prompts.</summary>
    protected const int MaxChunk = 256;

    private readonly object _forwardLock = new();
    private readonly IDisposable? _owner;

    /// <summary>Threads for the kernels of one forward call.</summary>
    protected WorkerPool Pool { get; }

    public ModelConfig Config { get; }
    public long ParameterCount { get; }
    public long WeightBytesPerToken { get; }

    /// <param name="config">Checked here.</param>
    /// <param name="perTokenTensors">Every tensor a decoded token reads (layers, final norm, classifier), each once.</param>
    /// <param name="lookupOnlyTensors">Tensors only looked up by row (embedding tables not reused as the classifier).</param>
    /// <param name="threads">Worker threads.</param>
    /// <param name="owner">Disposed with the model (e.g. the memory map the weights live in).</param>
    protected DecoderModel(ModelConfig config, IEnumerable<Tensor> perTokenTensors, IEnumerable<Tensor> lookupOnlyTensors, int threads, IDisposable? owner)
    {
        config.Validate(null);
        Config = config;
        _owner = owner;
        long parameters = 0, bytes = 0;
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in perTokenTensors)
            if (seen.Add(t))
            {
                parameters += t.ElementCount;
                bytes += t.ByteLength;
                if (t.DType.BlockSize() > 1)
                    _quantized.Add(t);
            }
        foreach (var t in lookupOnlyTensors)
            if (seen.Add(t))
                parameters += t.ElementCount;
        ParameterCount = parameters;
        WeightBytesPerToken = bytes;
        Pool = new WorkerPool(threads);
        WarmUp.Kernels(Pool);
        WarmUp.Quantized(_quantized.Select(t => t.DType).Distinct(), Pool);
    }

    /// <summary>
    /// How the states this model creates store their KV cache: F32 (the default; exact) or BF16 (keys and values rounded
    /// to 8 significant bits: half the cache's memory, and long contexts decode faster since attention reads half the
    /// bytes). States made before a change keep their type.
    /// </summary>
    public DType KvCacheType
    {
        get => _kvCacheType;
        set => _kvCacheType = value is DType.F32 or DType.BF16 ? value
            : throw new InvalidInputException($"the KV cache can hold F32 or BF16 numbers, not {value}");
    }

    private DType _kvCacheType = DType.F32;

    private readonly List<Tensor> _quantized = [];
    private bool _repackWeights = true;

    /// <summary>
    /// Whether the quantized matrices run on copies repacked for the SIMD kernels (the default; see
    /// <c>Interleaved</c>): faster decoding and prompts, at the cost of memory as large as the matrices (each copy is
    /// made on the matrix's first product). False runs them straight from the file and drops copies already made.
    /// </summary>
    /// <summary>How many of the quantized matrices have a repacked copy now (tests).</summary>
    internal int RepackedMatrices => _quantized.Count(Interleaved.Made);

    public bool RepackWeights
    {
        get => _repackWeights;
        set
        {
            _repackWeights = value;
            foreach (var t in _quantized)
                Interleaved.Allow(t, value);
        }
    }

    public InferenceState CreateState(int? contextLength = null)
    {
        int ctx = contextLength ?? Config.ContextLength;
        if (ctx <= 0 || ctx > Config.ContextLength)
            throw new InvalidInputException($"context length must be between 1 and {Config.ContextLength}, got {ctx}");
        return new InferenceState(Config.Layers, ctx, Config.KvHeads, Config.HeadSize, _kvCacheType);
    }

    public void Forward(InferenceState state, ReadOnlySpan<int> tokens, Span<float> logits, bool allPositions = false) =>
        Run(state, tokens, logits, allPositions ? ForwardOutput.AllLogits : ForwardOutput.LastLogits);

    public void ForwardHidden(InferenceState state, ReadOnlySpan<int> tokens, Span<float> hidden) =>
        Run(state, tokens, hidden, ForwardOutput.AllHidden);

    private void Run(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, ForwardOutput what)
    {
        int vocab = Config.VocabSize;
        int width = what == ForwardOutput.AllHidden ? Config.Dim : vocab;
        if (tokens.Length == 0)
            throw new InvalidInputException("forward needs at least one token");
        if (output.Length < (what == ForwardOutput.LastLogits ? vocab : (long)tokens.Length * width))
            throw new ArgumentException("output buffer too small");
        foreach (int id in tokens)
            if ((uint)id >= (uint)vocab)
                throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {vocab})");
        if (state.Position + tokens.Length > state.ContextLength)
            throw new ContextLengthException(state.Position + tokens.Length, state.ContextLength);
        if (state.Layers != Config.Layers || state.KvHeads != Config.KvHeads || state.HeadDim != Config.HeadSize)
            throw new InvalidInputException("this inference state was made by a model of another shape");

        lock (_forwardLock)
        {
            for (int done = 0; done < tokens.Length; done += MaxChunk)
            {
                int n = Math.Min(MaxChunk, tokens.Length - done);
                bool last = done + n == tokens.Length;
                Span<float> chunkOutput = what != ForwardOutput.LastLogits ? output.Slice(done * width, n * width) : last ? output[..vocab] : default;
                ForwardChunk(state, tokens.Slice(done, n), chunkOutput, what);
            }
        }
    }

    /// <summary>
    /// Runs ≤ <see cref="MaxChunk"/> tokens at positions state.Position.. (advance the state with
    /// <see cref="InferenceState.Advance"/>) and writes <paramref name="output"/> as <paramref name="what"/> says; for
    /// <see cref="ForwardOutput.LastLogits"/> the output is empty except on a prompt's last chunk.
    /// </summary>
    protected abstract void ForwardChunk(InferenceState state, ReadOnlySpan<int> tokens, Span<float> output, ForwardOutput what);

    public void Dispose()
    {
        Pool.Dispose();
        _owner?.Dispose();
        GC.SuppressFinalize(this);
    }
}
