using Microsoft.Extensions.AI;
using Minnow.Models;

namespace Minnow.Chat;

/// <summary>
/// Text embeddings from a Minnow model: the mean over the text's tokens (BOS included, as the tokenizer encodes a
/// sequence) of the final-normalised last hidden state, L2-normalised. With
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> the vector is truncated to its first N components and
/// <b>renormalised after truncation</b> (Matryoshka style), so every vector returned has unit length and
/// cosine similarity is a dot product. Runs on an <see cref="InferenceEngine"/>, which it may share with a
/// <see cref="MinnowChatClient"/> so the weights are loaded once.
/// </summary>
public sealed class MinnowEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly bool _ownsEngine;

    /// <summary>Loads the model at <paramref name="modelPath"/>; the generator owns it.</summary>
    public MinnowEmbeddingGenerator(string modelPath, string? modelId = null)
        : this(new InferenceEngine(ModelLoader.Load(modelPath), ownsModel: true), modelId, ownsEngine: true) { }

    /// <summary>A generator over an already-loaded model, with its own engine; with <paramref name="ownsModel"/>, disposing it disposes the model.</summary>
    public MinnowEmbeddingGenerator(LoadedModel model, string? modelId = null, bool ownsModel = false)
        : this(new InferenceEngine(model, ownsModel: ownsModel), modelId, ownsEngine: true) { }

    /// <summary>A generator sharing <paramref name="engine"/> (and so the weights) with other clients.</summary>
    public MinnowEmbeddingGenerator(InferenceEngine engine, string? modelId = null, bool ownsEngine = false)
    {
        Engine = engine;
        _ownsEngine = ownsEngine;
        ModelId = modelId ?? ModelIds.For(engine.Model);
        Dimensions = engine.Model.Model.Config.Dim;
        Metadata = new EmbeddingGeneratorMetadata("minnow", ModelIds.SourceUri(engine.Model), ModelId, Dimensions);
    }

    public InferenceEngine Engine { get; }
    public string ModelId { get; }

    /// <summary>The full embedding width: the model's hidden size.</summary>
    public int Dimensions { get; }

    public EmbeddingGeneratorMetadata Metadata { get; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var tokenizer = Engine.Model.Tokenizer
            ?? throw new InvalidInputException($"{Engine.Model.Source} has no tokenizer: embed token ids with GenerateFromTokensAsync");
        return GenerateFromTokensAsync(values.Select(v => (IReadOnlyList<int>)tokenizer.Encode(v, addSpecial: true)).ToList(), options, cancellationToken);
    }

    /// <summary>Embeds already-tokenized inputs (used verbatim: no BOS is added).</summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateFromTokensAsync(IReadOnlyList<IReadOnlyList<int>> inputs,
        EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options?.ModelId is { Length: > 0 } requested && requested != ModelId)
            throw new InvalidInputException($"model '{requested}' is not served here; this generator serves '{ModelId}'");
        int dimensions = options?.Dimensions ?? Dimensions;
        if (dimensions < 1 || dimensions > Dimensions)
            throw new InvalidInputException($"dimensions must be between 1 and {Dimensions}, got {dimensions}");
        int vocab = Engine.Model.Model.Config.VocabSize;
        foreach (var tokens in inputs)
        {
            if (tokens.Count == 0)
                throw new InvalidInputException("an input to embed is empty: give at least one token");
            if (tokens.Count > Engine.ContextLength)
                throw new ContextLengthException(tokens.Count, Engine.ContextLength);
            foreach (int id in tokens)
                if ((uint)id >= (uint)vocab)
                    throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {vocab})");
        }

        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        long tokenCount = 0;
        foreach (var tokens in inputs)
        {
            float[] pooled = await Engine.RunAsync(model => MeanHiddenState(model, tokens), cancellationToken).ConfigureAwait(false);
            result.Add(new Embedding<float>(Normalised(pooled.AsSpan(0, dimensions)))
            {
                ModelId = ModelId,
                CreatedAt = DateTimeOffset.UtcNow,
            });
            tokenCount += tokens.Count;
        }
        result.Usage = new UsageDetails { InputTokenCount = tokenCount, TotalTokenCount = tokenCount };
        return result;
    }

    /// <summary>The mean of the final hidden states of <paramref name="tokens"/>, run in a fresh KV cache.</summary>
    private static float[] MeanHiddenState(ILanguageModel model, IReadOnlyList<int> tokens)
    {
        int dim = model.Config.Dim, n = tokens.Count;
        var hidden = new float[n * dim]; // [n, dim]
        model.ForwardHidden(model.CreateState(n), tokens.ToArray(), hidden);
        var sum = new double[dim];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < dim; i++)
                sum[i] += hidden[t * dim + i];
        var mean = new float[dim];
        for (int i = 0; i < dim; i++)
            mean[i] = (float)(sum[i] / n);
        return mean;
    }

    /// <summary>A unit-length copy of <paramref name="v"/> (a zero vector stays zero).</summary>
    private static float[] Normalised(ReadOnlySpan<float> v)
    {
        double squares = 0;
        foreach (float x in v)
            squares += (double)x * x;
        double scale = squares > 0 ? 1 / Math.Sqrt(squares) : 0;
        var result = new float[v.Length];
        for (int i = 0; i < v.Length; i++)
            result[i] = (float)(v[i] * scale);
        return result;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata))
            return Metadata;
        object?[] candidates = [this, Engine, Engine.Model, Engine.Model.Model, Engine.Model.Tokenizer];
        return candidates.FirstOrDefault(serviceType.IsInstanceOfType);
    }

    public void Dispose()
    {
        if (_ownsEngine)
            Engine.Dispose();
    }
}
