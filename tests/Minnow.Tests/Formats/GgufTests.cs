using Minnow.Tests.Models;
using System.Text.Json;
using Minnow.Evaluation;
using Minnow.Formats.Gguf;
using Minnow.Generation;
using Minnow.Models;

namespace Minnow.Tests.Formats;

/// <summary>GGUF files made by llama.cpp's gguf-py against float64 references computed from their dequantized weights.</summary>
public class GgufTests
{
    internal static string File(string type) => TestData.Path($"models/tiny-gguf/tiny-llama-{type}.gguf");

    internal sealed record Expected(int[][] InputIds, double[][][] Logits, int[][] Greedy);

    /// <summary>max |Δlogit| of <paramref name="model"/> against the reference's row <paramref name="row"/>, over every position.</summary>
    internal static double MaxLogitError(ILanguageModel model, Expected expected, int row)
    {
        int[] ids = expected.InputIds[row];
        int vocab = model.Config.VocabSize;
        var logits = ModelOutputs.AllLogits(model, ids);
        double worst = 0;
        for (int t = 0; t < ids.Length; t++)
            for (int v = 0; v < vocab; v++)
                worst = Math.Max(worst, Math.Abs(logits[t * vocab + v] - expected.Logits[row][t][v]));
        return worst;
    }

    internal static Expected Load(string type)
    {
        var root = JsonDocument.Parse(System.IO.File.ReadAllText(TestData.Path($"models/tiny-gguf/tiny-llama-{type}.expected.json"))).RootElement;
        int[][] Ints2(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var logits = root.GetProperty("logits").EnumerateArray()
            .Select(b => b.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray()).ToArray();
        return new Expected(Ints2(root.GetProperty("input_ids")), logits, Ints2(root.GetProperty("greedy_next_16")));
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public async Task FloatFilesMatchReference(string type)
    {
        var expected = Load(type);
        using var loaded = ModelLoader.Load(File(type), new ModelLoadOptions { Threads = 2 });
        Assert.Equal("gguf", loaded.Format);
        Assert.Equal(RopeStyle.Interleaved, loaded.Model.Config.RopeStyle);
        for (int row = 0; row < expected.InputIds.Length; row++)
        {
            int[] ids = expected.InputIds[row];
            double worst = MaxLogitError(loaded.Model, expected, row);
            Assert.True(worst < 1e-4, $"{type} row {row}: max |Δlogit| = {worst:E2}");

            var score = Scorer.Score(loaded.Model, ids);
            for (int i = 0; i + 1 < ids.Length; i++)
            {
                var r = expected.Logits[row][i];
                double max = r.Max();
                double reference = r[ids[i + 1]] - max - Math.Log(r.Sum(v => Math.Exp(v - max)));
                Assert.True(Math.Abs(score.TokenLogprobs[i] - reference) < 2e-4, $"{type} row {row} position {i}");
            }

            var generated = new List<int>();
            await foreach (var token in new Generator(loaded.Model).GenerateAsync(ids, new GenerationOptions { MaxTokens = 16, Sampling = SamplingOptions.Greedy }))
                generated.Add(token.Id);
            Assert.Equal(expected.Greedy[row], generated.ToArray());
        }
    }

    [Fact]
    public void ReadsMetadata()
    {
        using var f = GgufFile.Open(File("Q4_0"));
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(320, f.GetArray<string>("tokenizer.ggml.tokens")!.Length);
        Assert.Equal(2, f.GetInt("tokenizer.ggml.eos_token_id"));
        Assert.True(f.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.Equal(21, f.Tensors.Count);
        Assert.Equal([320, 64], f.Info("token_embd.weight").Shape);
        Assert.Equal(Minnow.Tensors.DType.Q4_0, f.Info("blk.0.attn_q.weight").DType);
        Assert.Equal(Minnow.Tensors.DType.F32, f.Info("blk.0.attn_norm.weight").DType);
        var config = GgufModelLoader.ReadConfig(f);
        Assert.Equal((64, 128, 2, 4, 2, 320, 128), (config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads, config.VocabSize, config.ContextLength));
        Assert.False(config.TiedEmbeddings);
    }

    [Fact]
    public void WriteThenReadGivesIdenticalFile()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("minnow-gguf-").FullName, "copy.gguf");
        using (var f = GgufFile.Open(File("Q5_1")))
            GgufWriter.Write(path, f.MetadataInOrder, f.Tensors.Select(t => f.Tensor(t.Name)).ToList());
        // gguf-py writes the same layout (keys in order, tensors aligned to 32): the bytes agree exactly.
        Assert.Equal(System.IO.File.ReadAllBytes(File("Q5_1")), System.IO.File.ReadAllBytes(path));
    }

    private static string Temp(byte[] bytes)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("minnow-gguf-").FullName, "bad.gguf");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Offset of the first byte after the key string <paramref name="key"/> (where its type id sits).</summary>
    private static int After(byte[] bytes, string key)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(key);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at > 0, key);
        return at + needle.Length;
    }

    [Fact]
    public void CorruptFilesAreClearErrors()
    {
        byte[] original = System.IO.File.ReadAllBytes(File("Q8_0"));
        string Error(Func<byte[], byte[]> corrupt) =>
            Assert.ThrowsAny<ModelFormatException>(() => { using var f = GgufFile.Open(Temp(corrupt((byte[])original.Clone()))); }).Message;

        Assert.Contains("truncated", Error(b => b[..(b.Length - 100)]));
        Assert.Contains("truncated", Error(b => b[..5000]));
        Assert.Contains("not a GGUF file", Error(b => { b[0] = (byte)'X'; return b; }));
        Assert.Contains("version 7", Error(b => { b[4] = 7; return b; }));
        // tensor_count far beyond what the file could hold.
        Assert.Contains("more than the rest of the file", Error(b => { BitConverter.GetBytes(ulong.MaxValue / 2).CopyTo(b, 8); return b; }));
        // A string length past the end of the file.
        Assert.Contains("past the end", Error(b => { BitConverter.GetBytes(1UL << 40).CopyTo(b, 24); return b; }));
        // An unknown metadata value type.
        Assert.Contains("unknown value type", Error(b => { BitConverter.GetBytes(99u).CopyTo(b, After(b, "general.name")); return b; }));
        // An absurd array length.
        Assert.Contains("more than the rest of the file", Error(b => { BitConverter.GetBytes(1UL << 60).CopyTo(b, After(b, "tokenizer.ggml.tokens") + 8); return b; }));
        // An unknown tensor type (IQ2_XXS is out of scope).
        Assert.Contains("unsupported tensor type IQ2_XXS", Error(b => { int at = After(b, "blk.0.attn_q.weight") + 4 + 16; BitConverter.GetBytes(16u).CopyTo(b, at); return b; }));
        // A misaligned data offset, and one past the end.
        Assert.Contains("not aligned", Error(b => { int at = After(b, "blk.0.attn_q.weight") + 4 + 16 + 4; b[at] += 3; return b; }));
        Assert.Contains("past the end", Error(b => { int at = After(b, "blk.0.attn_q.weight") + 4 + 16 + 4; BitConverter.GetBytes(1UL << 40).CopyTo(b, at); return b; }));
    }

    /// <summary>Random mutations of a real file: opening and running it either works or fails with a MinnowException.</summary>
    [Fact]
    public void FuzzedFilesNeverCrashTheLoader()
    {
        byte[] original = System.IO.File.ReadAllBytes(File("F32"));
        int headerEnd;
        using (var f = GgufFile.Open(File("F32")))
            headerEnd = (int)f.DataStart;
        var rng = new Random(2026);
        int refused = 0;
        string path = Temp(original);
        for (int round = 0; round < 300; round++)
        {
            var bytes = (byte[])original.Clone();
            if (round % 4 == 0)
                bytes = bytes[..rng.Next(bytes.Length)];
            else
                for (int k = 0; k < 1 + rng.Next(3); k++)
                    bytes[rng.Next(headerEnd)] = (byte)(round % 4 == 1 ? rng.Next(256) : bytes[rng.Next(headerEnd)] ^ (1 << rng.Next(8)));
            System.IO.File.WriteAllBytes(path, bytes);
            try
            {
                using var loaded = ModelLoader.Load(path);
                loaded.Model.Forward(loaded.Model.CreateState(), [1, 2, 3], new float[loaded.Model.Config.VocabSize]);
            }
            catch (MinnowException)
            {
                refused++;
            }
        }
        Assert.True(refused > 100, $"only {refused} of 300 mutations were refused");
    }

    private static string WriteF32Gguf(ILanguageModel model)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("minnow-gguf-").FullName, "model.gguf");
        GgufModelWriter.Write(path, model, (_, _, _) => Minnow.Tensors.DType.F32, (t, _) => t, [], "test");
        return path;
    }

    [Theory]
    [MemberData(nameof(HfFamilyTests.Families), MemberType = typeof(HfFamilyTests))]
    public void EveryHfFamilyConvertsToGgufAndRunsTheSame(string family)
    {
        using var hf = ModelLoader.Load(HfFamilyTests.Folder(family));
        using var gguf = ModelLoader.Load(WriteF32Gguf(hf.Model));
        if (family != "gpt2")
            Assert.Equal(hf.Model.Config.Architecture == "llama" ? RopeStyle.Interleaved : RopeStyle.Half, gguf.Model.Config.RopeStyle);
        int[] ids = [1, 5, 77, 300, 2, 9, 100];
        var a = ModelOutputs.AllLogits(hf.Model, ids);
        var b = ModelOutputs.AllLogits(gguf.Model, ids);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) < 1e-4, $"{family} logit {i}: {a[i]} vs {b[i]}");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")]
    [InlineData("phi3")]
    public void HfToGgufToHfGivesIdenticalTensors(string family)
    {
        using var hf = ModelLoader.Load(HfFamilyTests.Folder(family));
        using var gguf = ModelLoader.Load(WriteF32Gguf(hf.Model));
        string folder = Directory.CreateTempSubdirectory("minnow-hf-").FullName;
        Minnow.Formats.HuggingFace.HfModelWriter.Write(folder, gguf.Model);
        using var original = Minnow.Formats.Safetensors.SafetensorsCheckpoint.Open(HfFamilyTests.Folder(family));
        using var copy = Minnow.Formats.Safetensors.SafetensorsCheckpoint.Open(folder);
        Assert.Equal(original.Names.Order(), copy.Names.Order());
        foreach (var name in original.Names)
            Assert.True(original.Get(name).AsBytes().SequenceEqual(copy.Get(name).AsBytes()), name);
    }
}
