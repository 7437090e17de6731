namespace Minnow.Tests;

/// <summary>Locates ../shared/data (beside the repository root) and fails with a clear message when it is absent.</summary>
public static class TestData
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The absolute path of ../shared/data/<paramref name="relative"/>.</summary>
    public static string Path(string relative) => System.IO.Path.Combine(Root.Value, relative);

    /// <summary>The repository root (the folder holding Minnow.slnx).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Minnow.slnx")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Minnow.slnx) above " + AppContext.BaseDirectory);
        }
    }

    private static string Find()
    {
        string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepoRoot, "..", "shared", "data"));
        if (!Directory.Exists(candidate))
            throw new InvalidOperationException($"test data not found at {candidate}: these tests need ../shared/data beside the repository");
        return candidate;
    }
}
