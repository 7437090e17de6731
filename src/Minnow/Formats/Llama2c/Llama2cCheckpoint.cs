using System.Buffers.Binary;
using Minnow.Models;
using Minnow.Tensors;

namespace Minnow.Formats.Llama2c;

/// <summary>
/// llama2.c's checkpoint format (run.c, "legacy v0"): a header of 7 int32 — dim, hidden_dim, n_layers, n_heads,
/// n_kv_heads, vocab_size (negative means the classifier is stored separately), seq_len — then fp32 tensors in
/// run.c's order, each concatenated over layers: token embedding, attention norms, wq, wk, wv, wo, ffn norms,
/// w1, w2, w3, final norm, the unused freq_cis_real/freq_cis_imag tables, and the classifier if not shared.
/// Tensors are memory-mapped, never copied.
/// </summary>
public static class Llama2cCheckpoint
{
    private const int HeaderBytes = 7 * sizeof(int);

    /// <summary>Loads a checkpoint as a Llama model running on <paramref name="threads"/> threads.</summary>
    public static LlamaModel Load(string path, int threads)
    {
        var file = new MappedFile(path);
        try
        {
            var (config, layout) = ReadLayout(file);
            return new LlamaModel(config, Weights(file, config, layout), threads, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads and validates only the header (and the file size it implies).</summary>
    public static ModelConfig ReadConfig(string path)
    {
        using var file = new MappedFile(path);
        return ReadLayout(file).Config;
    }

    private sealed record Layout(long[] Offsets, bool Shared);

    private static (ModelConfig Config, Layout Layout) ReadLayout(MappedFile file)
    {
        if (file.Length < HeaderBytes)
            throw new ModelFormatException(file.Path, $"truncated llama2.c checkpoint: {file.Length} bytes, the header alone needs {HeaderBytes}");
        var header = new int[7];
        for (int i = 0; i < header.Length; i++)
            header[i] = BinaryPrimitives.ReadInt32LittleEndian(file.Span(i * 4, 4));
        int Field(int i) => header[i];
        int dim = Field(0), hidden = Field(1), layers = Field(2), heads = Field(3), kvHeads = Field(4), vocab = Field(5), seqLen = Field(6);
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        int[] values = [dim, hidden, layers, heads, kvHeads, vocab == int.MinValue ? 0 : Math.Abs(vocab), seqLen];
        for (int i = 0; i < values.Length; i++)
            if (values[i] <= 0)
                throw new ModelFormatException(file.Path, $"not a valid llama2.c checkpoint: header field {names[i]} is {Field(i)}, must be positive");

        var config = new ModelConfig
        {
            Architecture = "llama",
            Dim = dim,
            HiddenDim = hidden,
            Layers = layers,
            Heads = heads,
            KvHeads = kvHeads,
            VocabSize = Math.Abs(vocab),
            ContextLength = seqLen,
            RopeStyle = RopeStyle.Interleaved,
            TiedEmbeddings = vocab > 0,
        };
        config.Validate(file.Path);

        var sizes = TensorSizes(config);
        var offsets = new long[sizes.Length];
        long offset = HeaderBytes;
        for (int i = 0; i < sizes.Length; i++)
        {
            offsets[i] = offset;
            offset = checked(offset + sizes[i] * sizeof(float));
        }
        if (file.Length != offset)
            throw new ModelFormatException(file.Path,
                file.Length < offset
                    ? $"truncated llama2.c checkpoint: the header describes {offset} bytes but the file has {file.Length}"
                    : $"llama2.c checkpoint has {file.Length - offset} unexpected trailing bytes (the header describes {offset} bytes)");
        return (config, new Layout(offsets, config.TiedEmbeddings));
    }

    /// <summary>Element counts of the stored blocks, in file order.</summary>
    private static long[] TensorSizes(ModelConfig c)
    {
        long dim = c.Dim, hidden = c.HiddenDim, layers = c.Layers, vocab = c.VocabSize, hs = c.HeadSize;
        var sizes = new List<long>
        {
            vocab * dim,                     // token embedding
            layers * dim,                    // attention norms
            layers * dim * c.QueryDim,       // wq
            layers * dim * c.KvDim,          // wk
            layers * dim * c.KvDim,          // wv
            layers * c.QueryDim * dim,       // wo
            layers * dim,                    // ffn norms
            layers * dim * hidden,           // w1
            layers * hidden * dim,           // w2
            layers * dim * hidden,           // w3
            dim,                             // final norm
            c.ContextLength * hs / 2,        // freq_cis_real (unused)
            c.ContextLength * hs / 2,        // freq_cis_imag (unused)
        };
        if (!c.TiedEmbeddings)
            sizes.Add(vocab * dim);          // classifier
        return sizes.ToArray();
    }

    private static LlamaWeights Weights(MappedFile file, ModelConfig c, Layout layout)
    {
        long[] o = layout.Offsets;
        int dim = c.Dim, hidden = c.HiddenDim;
        Tensor Slice(int block, int layer, string name, params int[] shape)
        {
            long perLayer = 1;
            foreach (int d in shape) perLayer *= d;
            return Tensor.View(name, DType.F32, shape, file, o[block] + layer * perLayer * sizeof(float));
        }
        var embedding = Slice(0, 0, "token_embedding", c.VocabSize, dim);
        var layers = new LlamaLayer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
            layers[l] = new LlamaLayer
            {
                AttentionNorm = Slice(1, l, $"layers.{l}.rms_att", dim),
                Wq = Slice(2, l, $"layers.{l}.wq", c.QueryDim, dim),
                Wk = Slice(3, l, $"layers.{l}.wk", c.KvDim, dim),
                Wv = Slice(4, l, $"layers.{l}.wv", c.KvDim, dim),
                Wo = Slice(5, l, $"layers.{l}.wo", dim, c.QueryDim),
                FfnNorm = Slice(6, l, $"layers.{l}.rms_ffn", dim),
                WGate = Slice(7, l, $"layers.{l}.w1", hidden, dim),
                WDown = Slice(8, l, $"layers.{l}.w2", dim, hidden),
                WUp = Slice(9, l, $"layers.{l}.w3", hidden, dim),
            };
        return new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            FinalNorm = Slice(10, 0, "rms_final", dim),
            Output = layout.Shared ? embedding : Slice(13, 0, "wcls", c.VocabSize, dim),
        };
    }

    /// <summary>
    /// Writes a checkpoint whose tensors come from <paramref name="values"/>, called once per stored block in file
    /// order with the block's name and element count (the freq_cis blocks are filled here). Written to a temporary
    /// file and renamed, so a failure never leaves a half-written checkpoint under <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, ModelConfig config, Action<string, Span<float>> values)
    {
        config.Validate(path);
        string[] names = ["token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final", "freq_cis_real", "freq_cis_imag", "wcls"];
        var sizes = TensorSizes(config);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            int[] fields = [config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads,
                config.TiedEmbeddings ? config.VocabSize : -config.VocabSize, config.ContextLength];
            for (int i = 0; i < fields.Length; i++)
                BinaryPrimitives.WriteInt32LittleEndian(header[(i * 4)..], fields[i]);
            stream.Write(header);
            var rope = new RopeTable(config.HeadSize, config.ContextLength, config.RopeTheta);
            const int chunk = 1 << 16;
            var buffer = new float[chunk];
            for (int b = 0; b < sizes.Length; b++)
            {
                if (b is 11 or 12)
                {
                    for (int p = 0; p < config.ContextLength; p++)
                        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b == 11 ? rope.Cos(p) : rope.Sin(p)));
                    continue;
                }
                for (long done = 0; done < sizes[b]; done += chunk)
                {
                    var span = buffer.AsSpan(0, (int)Math.Min(chunk, sizes[b] - done));
                    values(names[b], span);
                    stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(span));
                }
            }
        }
        File.Move(temp, path, overwrite: true);
    }
}
