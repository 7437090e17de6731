using Minnow.Formats.Llama2c;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Chat;

/// <summary>
/// The model the chat and server tests share: the default model's shape and byte-level tokenizer, with weights
/// drawn wider (std 0.1 instead of 0.02) so greedy replies vary with the prompt instead of repeating one byte.
/// Written once per test run to a temporary folder, as model.bin with tokenizer.bin beside it.
/// </summary>
public static class ChatTestModel
{
    private static readonly Lazy<string> File = new(() =>
    {
        string folder = Directory.CreateTempSubdirectory("minnow-chat-model-").FullName;
        DefaultModel.ByteTokenizer().Save(Path.Combine(folder, "tokenizer.bin"));
        string path = Path.Combine(folder, "chat-test.bin");
        var rng = new Rng(11);
        Llama2cCheckpoint.Write(path, DefaultModel.Config, (name, values) => RandomWeights.Fill(name, values, rng, std: 0.1f));
        return path;
    });

    public static string FilePath => File.Value;

    /// <summary>Loads the test model (each call a new copy; dispose it).</summary>
    public static LoadedModel Load(int threads = 1) => ModelLoader.Load(File.Value, new ModelLoadOptions { Threads = threads });
}
