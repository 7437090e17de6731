using System.Text.Json;
using Minnow.Formats.Safetensors;
using Minnow.Models;
using Minnow.Training;

namespace Minnow.Tests.Training;

/// <summary>The training/ oracle files: batches, the PyTorch trajectory, and the tiny Llama it starts from.</summary>
internal static class TrainingData
{
    public static string Path(string file) => TestData.Path($"training/{file}");

    private static readonly Lazy<JsonElement> Batches = new(() => JsonDocument.Parse(File.ReadAllText(Path("batches.json"))).RootElement);

    public static JsonElement Trajectory { get; } = JsonDocument.Parse(File.ReadAllText(Path("trajectory.json"))).RootElement;

    private static int[] Flatten(JsonElement rows) => rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => x.GetInt32())).ToArray();

    private static TokenBatch Batch(JsonElement e) => new(Flatten(e.GetProperty("inputs")), Flatten(e.GetProperty("targets")), 32);

    /// <summary>The batch of step <paramref name="step"/> (0-based).</summary>
    public static TokenBatch Step(int step) => Batch(Batches.Value.GetProperty("steps")[step]);

    public static int Steps => Batches.Value.GetProperty("steps").GetArrayLength();

    public static TokenBatch Held => Batch(Batches.Value.GetProperty("held_batch"));

    /// <summary>The tiny-hf/llama model (F32, HF layout) as a trainable model.</summary>
    public static TrainableLlama TinyLlama(int threads)
    {
        using var loaded = ModelLoader.Load(TestData.Path("models/tiny-hf/llama"), new ModelLoadOptions { Threads = 1 });
        var llama = (LlamaModel)loaded.Model;
        return TrainableLlama.FromWeights(llama.Config, llama.Weights, threads);
    }

    /// <summary>Every tensor of a safetensors file by name, as floats.</summary>
    public static Dictionary<string, float[]> ReadTensors(string file)
    {
        using var st = SafetensorsFile.Open(Path(file));
        return st.Entries.ToDictionary(e => e.Name, e => st.Tensor(e.Name).AsFloats().ToArray());
    }

    public static float[] ReadF32(string file)
    {
        var bytes = File.ReadAllBytes(Path(file));
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
