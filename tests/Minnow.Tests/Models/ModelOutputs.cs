using Minnow.Models;

namespace Minnow.Tests.Models;

/// <summary>What a model computes for a prompt, for the tests that compare it with references or with another model.</summary>
internal static class ModelOutputs
{
    /// <summary>The logits of every position of <paramref name="ids"/> [ids.Length, V], from a fresh state.</summary>
    public static float[] AllLogits(ILanguageModel model, int[] ids)
    {
        var logits = new float[ids.Length * model.Config.VocabSize];
        model.Forward(model.CreateState(), ids, logits, allPositions: true);
        return logits;
    }
}
