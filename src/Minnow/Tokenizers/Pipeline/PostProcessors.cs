namespace Minnow.Tokenizers.Pipeline;

/// <summary>Adds the special tokens a model expects around a sequence (HF's post-processors), when asked to.</summary>
internal interface IPostProcessor
{
    void Process(List<int> ids, bool addSpecial);

    /// <summary>The first and last special ids this processor adds, if any (what BOS/EOS default to).</summary>
    (int? First, int? Last) AddedIds { get; }
}

/// <summary>TemplateProcessing's single-sequence template: special tokens (each one or more ids) around the sequence "$A".</summary>
/// <param name="template">Each item is the ids of a special token, or null where the sequence goes.</param>
internal sealed class TemplateProcessor(IReadOnlyList<int[]?> template) : IPostProcessor
{
    public (int? First, int? Last) AddedIds =>
        (template.Count > 0 && template[0] is { Length: > 0 } first ? first[0] : null,
         template.Count > 0 && template[^1] is { Length: > 0 } last ? last[^1] : null);

    public void Process(List<int> ids, bool addSpecial)
    {
        if (!addSpecial)
            return;
        var sequence = ids.ToArray();
        ids.Clear();
        foreach (var item in template)
            ids.AddRange(item ?? sequence);
    }
}

/// <summary>Post-processors applied in order (HF's Sequence; ByteLevel's own step only adjusts offsets, so it is left out).</summary>
internal sealed class SequencePostProcessor(IReadOnlyList<IPostProcessor> steps) : IPostProcessor
{
    public (int? First, int? Last) AddedIds => steps.Count == 0 ? (null, null) : steps[^1].AddedIds;

    public void Process(List<int> ids, bool addSpecial)
    {
        foreach (var step in steps)
            step.Process(ids, addSpecial);
    }
}
