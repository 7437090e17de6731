namespace Minnow.Tokenizers.Training;

/// <summary>Progress of a tokenizer training run: the phase ("reading", "counting", "merging"), and how far it is.</summary>
/// <param name="Phase">What the trainer is doing.</param>
/// <param name="Done">Units finished in this phase (bytes read, merges made).</param>
/// <param name="Total">Units the phase has in all (0 when unknown).</param>
public readonly record struct TokenizerTrainingProgress(string Phase, long Done, long Total);
