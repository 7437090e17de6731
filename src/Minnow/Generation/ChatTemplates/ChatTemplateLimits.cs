namespace Minnow.Generation.ChatTemplates;

/// <summary>
/// Bounds on the work one render may do, so a hostile template (huge loops, runaway recursion, string blow-up)
/// stops with a <see cref="ChatTemplateException"/> of kind <see cref="ChatTemplateErrorKind.LimitExceeded"/>
/// instead of hanging or exhausting memory. The defaults are far above what real chat templates need
/// (a long conversation with tools takes tens of thousands of steps).
/// </summary>
public sealed record ChatTemplateLimits
{
    /// <summary>Evaluation steps: one per statement or expression node evaluated, plus one per 64 characters or items produced.</summary>
    public long MaxSteps { get; init; } = 5_000_000;

    /// <summary>Nesting of evaluation (expressions inside statements inside macro calls…).</summary>
    public int MaxDepth { get; init; } = 400;

    /// <summary>Nested macro (and recursive loop) calls.</summary>
    public int MaxCallDepth { get; init; } = 100;

    /// <summary>Characters of rendered output, and the longest string or list any expression may build.</summary>
    public int MaxOutputLength { get; init; } = 16 * 1024 * 1024;

    public static ChatTemplateLimits Default { get; } = new();
}
