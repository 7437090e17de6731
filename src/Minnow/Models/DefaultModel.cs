using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Tokenizers;

namespace Minnow.Models;

/// <summary>
/// The model commands use when no --model is given. Until Minnow ships a model it trained itself, this is a small
/// random-initialised Llama (so its text is noise) with a byte-level tokenizer, written on first use to a folder
/// in the user's data directory (or $MINNOW_HOME). Users never need ../shared/data or a download.
/// </summary>
public static class DefaultModel
{
    /// <summary>Bump when the recipe changes, so an old cached copy is not reused.</summary>
    private const string Version = "random-v1";

    /// <summary>What users are told when they run it.</summary>
    public const string Note = "note: using Minnow's default model, an untrained random placeholder: its text is noise. Pass --model FILE to use a real model.";

    /// <summary>The shape of the placeholder: ~0.9M parameters, fast anywhere.</summary>
    public static ModelConfig Config { get; } = new()
    {
        Dim = 128,
        HiddenDim = 352,
        Layers = 4,
        Heads = 4,
        KvHeads = 4,
        VocabSize = ByteTokenizerSize,
        ContextLength = 512,
        TiedEmbeddings = true,
    };

    /// <summary>&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; and the 256 bytes.</summary>
    private const int ByteTokenizerSize = 3 + 256;

    /// <summary>Minnow's data folder: $MINNOW_HOME, or "minnow" in the user's local application data.</summary>
    public static string Home => Environment.GetEnvironmentVariable("MINNOW_HOME") is { Length: > 0 } env
        ? env
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "minnow");

    /// <summary>Returns the default model's path, writing it (and tokenizer.bin beside it) first if it is not there yet.</summary>
    public static string EnsureCreated() => EnsureCreatedIn(Home);

    /// <summary>As <see cref="EnsureCreated"/>, under the given Minnow data folder.</summary>
    public static string EnsureCreatedIn(string home)
    {
        string folder = Path.Combine(home, "default-" + Version);
        string model = Path.Combine(folder, "model.bin");
        string tokenizer = Path.Combine(folder, "tokenizer.bin");
        if (File.Exists(model) && File.Exists(tokenizer))
            return model;
        Directory.CreateDirectory(folder);
        // Each writer renames its own complete temp file into place, so concurrent first runs cannot see a partial file.
        string unique = $".{Environment.ProcessId}.{Guid.NewGuid():N}";
        ByteTokenizer().Save(tokenizer + unique);
        File.Move(tokenizer + unique, tokenizer, overwrite: true);
        var rng = new Rng(20261123);
        Llama2cCheckpoint.Write(model + unique, Config, (name, values) => RandomWeights.Fill(name, values, rng));
        File.Move(model + unique, model, overwrite: true);
        return model;
    }

    /// <summary>A tokenizer whose tokens are &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; and then each single byte, so any text encodes.</summary>
    public static Llama2cTokenizer ByteTokenizer()
    {
        var pieces = new List<byte[]> { "<unk>"u8.ToArray(), "\n<s>\n"u8.ToArray(), "\n</s>\n"u8.ToArray() };
        var scores = new List<float> { 0, 0, 0 };
        for (int b = 0; b < 256; b++)
        {
            pieces.Add([(byte)b]);
            scores.Add(0);
        }
        return new Llama2cTokenizer(pieces, scores);
    }
}
