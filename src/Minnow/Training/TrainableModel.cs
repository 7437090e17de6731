using Minnow.Models;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

/// <summary>Memory a training step holds, in bytes (optimizer state is reported by the optimizer).</summary>
/// <param name="Parameters">fp32 values.</param>
/// <param name="Gradients">fp32 parameter gradients.</param>
/// <param name="Activations">Activations saved for the backward pass (incl. attention probabilities), at their high-water mark.</param>
/// <param name="ActivationGradients">Gradients of the activations.</param>
/// <param name="Scratch">Temporaries of single operations (the classifier's row block of logits).</param>
public sealed record TrainingMemory(long Parameters, long Gradients, long Activations, long ActivationGradients, long Scratch)
{
    public long Total => Parameters + Gradients + Activations + ActivationGradients + Scratch;
}

/// <summary>
/// A model that trains: its parameters in one <see cref="ParameterStore"/>, a forward pass recorded on a
/// <see cref="Training.Tape"/>, and the classifier's fused cross-entropy. The family's weight classes are views into
/// the store, so <see cref="CreateInferenceModel"/> runs the very same memory, and checkpoints are written with the
/// existing writers. A trainer composes <see cref="ForwardBackward"/> (or <see cref="Forward"/> plus its own loss on
/// the tape), clipping and an optimizer.
/// </summary>
public abstract class TrainableModel : IDisposable
{
    protected TrainableModel(ModelConfig config, ParameterStore parameters, int threads)
    {
        config.Validate(null);
        Config = config;
        Parameters = parameters;
        Pool = new WorkerPool(threads);
        Tape = new Tape(Pool);
        Tape.Bind(parameters);
    }

    /// <summary>A trainable copy of a loaded model's weights (fine-tuning starts here): Llama family or GPT-2.</summary>
    public static TrainableModel CopyOf(ILanguageModel model, int threads) => model switch
    {
        LlamaModel llama => TrainableLlama.FromWeights(llama.Config, llama.Weights, threads),
        Gpt2Model gpt2 => TrainableGpt2.FromWeights(gpt2.Config, gpt2.Weights, threads),
        _ => throw new InvalidInputException($"{model.GetType().Name} cannot be trained"),
    };

    public ModelConfig Config { get; }
    public ParameterStore Parameters { get; }

    /// <summary>The tape <see cref="ForwardBackward"/>, <see cref="Loss"/> and <see cref="Logits"/> record on.</summary>
    public Tape Tape { get; }

    /// <summary>Threads of the kernels.</summary>
    public WorkerPool Pool { get; }

    /// <summary>The classifier matrix [V, D] (the token embedding when tied).</summary>
    public abstract Tensor Classifier { get; }

    /// <summary>
    /// Records the forward pass of <paramref name="inputs"/> (sequences of <paramref name="sequenceLength"/> tokens) on
    /// <paramref name="tape"/> and returns the final-normalised hidden states [n, D], the classifier's input.
    /// </summary>
    public abstract Act Forward(Tape tape, int[] inputs, int sequenceLength);

    /// <summary>Checks that <paramref name="inputs"/> are whole sequences that fit the context, of ids inside the vocabulary.</summary>
    protected void CheckInputs(int[] inputs, int sequenceLength)
    {
        if (sequenceLength <= 0 || inputs.Length == 0 || inputs.Length % sequenceLength != 0)
            throw new InvalidInputException($"{inputs.Length} tokens are not a whole number of sequences of {sequenceLength}");
        if (sequenceLength > Config.ContextLength)
            throw new ContextLengthException(sequenceLength, Config.ContextLength);
        foreach (int id in inputs)
            if ((uint)id >= (uint)Config.VocabSize)
                throw new InvalidInputException($"token id {id} is outside the vocabulary [0, {Config.VocabSize})");
    }

    /// <summary>An inference model over the same weights (the same memory: it sees every update).</summary>
    public abstract DecoderModel CreateInferenceModel(int threads);

    /// <summary>
    /// Forward and backward pass of the mean token cross-entropy on <paramref name="batch"/>: the gradients of
    /// lossScale·loss are added to <see cref="Parameters"/>' gradients (zero them once per optimizer step; use
    /// lossScale = 1/k to accumulate k micro-batches). Returns the loss.
    /// </summary>
    public float ForwardBackward(TokenBatch batch, float lossScale = 1f)
    {
        Tape.Reset();
        Tape.RecordsGradients = true;
        var hidden = Forward(Tape, batch.Inputs, batch.SequenceLength);
        float loss = Tape.CrossEntropy(hidden, Classifier, batch.Targets, Config.FinalSoftCap, lossScale);
        Tape.Backward();
        return loss;
    }

    /// <summary>The mean token cross-entropy on <paramref name="batch"/>, without gradients.</summary>
    public float Loss(TokenBatch batch)
    {
        Tape.Reset();
        Tape.RecordsGradients = false;
        var hidden = Forward(Tape, batch.Inputs, batch.SequenceLength);
        return Tape.CrossEntropy(hidden, Classifier, batch.Targets, Config.FinalSoftCap);
    }

    /// <summary>Logits of every position [n, V] of <paramref name="inputs"/>, without gradients.</summary>
    public void Logits(int[] inputs, int sequenceLength, Span<float> logits)
    {
        Tape.Reset();
        Tape.RecordsGradients = false;
        var hidden = Forward(Tape, inputs, sequenceLength);
        Tape.Logits(hidden, Classifier, logits, Config.FinalSoftCap);
    }

    /// <summary>What the last step held (valid after a step).</summary>
    public TrainingMemory Memory => new(
        Parameters.Count * sizeof(float), Parameters.Count * sizeof(float), Tape.ActivationBytes, Tape.ActivationGradientBytes, Tape.ScratchBytes);

    public void Dispose()
    {
        Pool.Dispose();
        GC.SuppressFinalize(this);
    }
}
