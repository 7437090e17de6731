using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tokenizers;

namespace Minnow.Tests.Chat;

/// <summary>
/// The model the chat and server tests share: a small random Llama (~0.9M parameters) with a byte-level tokenizer,
/// weights drawn wide (std 0.1) so greedy replies vary with the prompt instead of repeating one byte.
/// Written once per test run to a temporary folder, as model.bin with tokenizer.bin beside it.
/// </summary>
public static class ChatTestModel
{
    /// <summary>The shape: fast anywhere.</summary>
    public static ModelConfig Config { get; } = new()
    {
        Dim = 128, HiddenDim = 352, Layers = 4, Heads = 4, KvHeads = 4, VocabSize = 3 + 256, ContextLength = 512, TiedEmbeddings = true,
    };

    private static readonly Lazy<string> File = new(() =>
    {
        string folder = Directory.CreateTempSubdirectory("minnow-chat-model-").FullName;
        ByteTokenizer().Save(Path.Combine(folder, "tokenizer.bin"));
        string path = Path.Combine(folder, "chat-test.bin");
        var rng = new Rng(11);
        Llama2cCheckpoint.Write(path, Config, (name, values) => RandomWeights.Fill(name, values, rng, std: 0.1f));
        return path;
    });

    public static string FilePath => File.Value;

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

    /// <summary>Loads the test model (each call a new copy; dispose it).</summary>
    public static LoadedModel Load(int threads = 1) => ModelLoader.Load(File.Value, new ModelLoadOptions { Threads = threads });
}
