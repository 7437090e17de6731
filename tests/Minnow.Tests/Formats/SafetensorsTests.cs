using Minnow.Tests.Models;
using System.Buffers.Binary;
using System.Text;
using Minnow.Formats.HuggingFace;
using Minnow.Formats.Safetensors;
using Minnow.Generation;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Tests.Formats;

/// <summary>safetensors reading, writing, sharding and corruption; HF folders written by Minnow load back exactly.</summary>
public class SafetensorsTests
{
    private static string Temp() => Directory.CreateTempSubdirectory("minnow-st-").FullName;

    private static readonly int[] Ids = [1, 17, 250, 3, 99, 42, 7, 300];

    [Fact]
    public void WriteThenReadGivesIdenticalTensors()
    {
        string folder = Temp();
        using var original = SafetensorsCheckpoint.Open(HfFamilyTests.Folder("qwen2"));
        string path = Path.Combine(folder, "copy.safetensors");
        SafetensorsWriter.Write(path, original.Names.Select(original.Get), new Dictionary<string, string> { ["format"] = "pt" });
        using var copy = SafetensorsFile.Open(path);
        Assert.Equal("pt", copy.Metadata["format"]);
        Assert.Equal(original.Names.Order(StringComparer.Ordinal), copy.Entries.Select(e => e.Name));
        foreach (string name in original.Names)
        {
            var a = original.Get(name);
            var b = copy.Tensor(name);
            Assert.Equal(a.DType, b.DType);
            Assert.Equal(a.Shape, b.Shape);
            Assert.True(a.AsBytes().SequenceEqual(b.AsBytes()), name);
        }
        // The header is padded to 8 bytes, as the reference writer does.
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path)) % 8);
    }

    [Fact]
    public void ShardedCopyLoadsTheSame()
    {
        string folder = Temp();
        string source = HfFamilyTests.Folder("llama");
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(folder, "config.json"));
        using (var original = SafetensorsCheckpoint.Open(source))
            SafetensorsWriter.WriteSharded(folder, original.Names.Select(original.Get), maxShardBytes: 100_000);
        Assert.True(Directory.GetFiles(folder, "model-*-of-*.safetensors").Length >= 3);
        using var a = ModelLoader.Load(source);
        using var b = ModelLoader.Load(folder);
        Assert.Equal(ModelOutputs.AllLogits(a.Model, Ids), ModelOutputs.AllLogits(b.Model, Ids));

        // A shard cut short is a clear error naming it.
        string shard = Directory.GetFiles(folder, "model-00002-*.safetensors")[0];
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..(bytes.Length - 10)]);
        var e = Assert.ThrowsAny<MinnowException>(() => ModelLoader.Load(folder));
        Assert.Contains(shard, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [MemberData(nameof(HfFamilyTests.Families), MemberType = typeof(HfFamilyTests))]
    public void HfFolderWrittenByMinnowLoadsBackExactly(string family)
    {
        string folder = Temp();
        using var original = ModelLoader.Load(HfFamilyTests.Folder(family));
        HfModelWriter.Write(folder, original.Model);
        using var copy = ModelLoader.Load(folder);
        // Equal up to how the head size is spelled (explicit head_dim or dim / heads).
        var expected = original.Model.Config with { HeadDim = original.Model.Config.HeadSize };
        Assert.Equal(expected, copy.Model.Config with { HeadDim = copy.Model.Config.HeadSize });
        Assert.Equal(ModelOutputs.AllLogits(original.Model, Ids), ModelOutputs.AllLogits(copy.Model, Ids));
    }

    [Fact]
    public void Llama2cCheckpointConvertsToAnEquivalentHfFolder()
    {
        string folder = Temp();
        using var original = ModelLoader.Load(TestData.Path("models/stories260K/stories260K.bin"));
        HfModelWriter.Write(folder, original.Model, DType.F32);
        using var copy = ModelLoader.Load(folder);
        Assert.Equal(RopeStyle.Half, copy.Model.Config.RopeStyle);
        var a = ModelOutputs.AllLogits(original.Model, Ids);
        var b = ModelOutputs.AllLogits(copy.Model, Ids);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) < 1e-4, $"logit {i}: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void Bf16FolderMatchesItsF32Source()
    {
        string folder = Temp();
        using var original = ModelLoader.Load(HfFamilyTests.Folder("llama-bf16"));
        HfModelWriter.Write(folder, original.Model, DType.BF16);
        using var copy = ModelLoader.Load(folder);
        Assert.Equal(21, copy.TensorTypes["BF16"]);
        // The weights were BF16 to begin with, so storing them as BF16 again loses nothing.
        Assert.Equal(ModelOutputs.AllLogits(original.Model, Ids), ModelOutputs.AllLogits(copy.Model, Ids));
    }

    private static string WriteFile(byte[] bytes)
    {
        string path = Path.Combine(Temp(), "model.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Build(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "past the end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlaps")]
    [InlineData("""{"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}""", 8, "unsupported dtype 'Q9'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "invalid dimension")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", 8, "not valid JSON")]
    [InlineData("""[1,2]""", 0, "not a JSON object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2147483647,2147483647,4],"data_offsets":[0,8]}}""", 8, "")]
    public void CorruptHeadersAreClearErrors(string header, int dataBytes, string message)
    {
        string path = WriteFile(Build(header, dataBytes));
        var e = Assert.ThrowsAny<ModelFormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AbsurdHeaderLengthsAreRefusedBeforeAllocating()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue - 3);
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(WriteFile(bytes)));
        Assert.Contains("limit", e.Message);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        Assert.Contains("past the end", Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(WriteFile(bytes))).Message);
        Assert.Contains("needs 8", Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(WriteFile([1, 2, 3]))).Message);
    }

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("model_type")]
    public void ConfigMissingARequiredKeyIsAClearError(string key)
    {
        string folder = Temp();
        string source = HfFamilyTests.Folder("llama");
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(folder, "model.safetensors"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        config.Remove(key);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void UnknownArchitectureAndExtraTensorsAreClearErrors()
    {
        string folder = Temp();
        string source = HfFamilyTests.Folder("llama");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        config["model_type"] = "mamba";
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(folder, "model.safetensors"));
        Assert.Contains("unsupported architecture 'mamba'", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder)).Message);

        // A llama config over Qwen2 weights (which carry q/k/v biases) loads them, but over Gemma 2's extra norms it refuses.
        config["model_type"] = "llama";
        File.WriteAllText(Path.Combine(folder, "config.json"), File.ReadAllText(Path.Combine(HfFamilyTests.Folder("gemma2"), "config.json")).Replace("\"gemma2\"", "\"llama\""));
        File.Copy(Path.Combine(HfFamilyTests.Folder("gemma2"), "model.safetensors"), Path.Combine(folder, "model.safetensors"), overwrite: true);
        Assert.Contains("does not use", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder)).Message);
    }

    /// <summary>
    /// Mutates the real file many times (random header bytes, truncations, random data bytes): loading either works or
    /// fails with a MinnowException; never an IndexOutOfRange, a crash or an out-of-memory.
    /// </summary>
    [Fact]
    public void FuzzedFilesNeverCrashTheLoader()
    {
        string source = HfFamilyTests.Folder("qwen3");
        byte[] original = File.ReadAllBytes(Path.Combine(source, "model.safetensors"));
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        string folder = Temp();
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(folder, "config.json"));
        string path = Path.Combine(folder, "model.safetensors");
        var rng = new Random(12345);
        int loaded = 0, refused = 0;
        for (int round = 0; round < 300; round++)
        {
            var bytes = (byte[])original.Clone();
            switch (round % 3)
            {
                case 0:
                    for (int k = 0; k < 1 + rng.Next(4); k++)
                        bytes[rng.Next(headerEnd)] = (byte)rng.Next(256);
                    break;
                case 1:
                    bytes = bytes[..rng.Next(bytes.Length)];
                    break;
                default:
                    int at = 8 + rng.Next(headerEnd - 8);
                    bytes[at] = (byte)"0123456789,[]{}\":"[rng.Next(17)];
                    break;
            }
            File.WriteAllBytes(path, bytes);
            try
            {
                using var model = ModelLoader.Load(folder);
                model.Model.Forward(model.Model.CreateState(), [1, 2, 3], new float[model.Model.Config.VocabSize]);
                loaded++;
            }
            catch (MinnowException)
            {
                refused++;
            }
        }
        Assert.True(refused > 100, $"only {refused} of 300 mutations were refused");
        Assert.Equal(300, loaded + refused);
    }
}
