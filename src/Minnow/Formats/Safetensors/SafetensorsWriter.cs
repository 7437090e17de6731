using System.Buffers.Binary;
using System.Text.Json;
using Minnow.Tensors;

namespace Minnow.Formats.Safetensors;

/// <summary>
/// Writes safetensors files as the reference library lays them out: header JSON padded with spaces to a multiple
/// of 8 bytes, tensors in name order, data contiguous. Every file is written to a temporary name and renamed, so a
/// failure never leaves a half-written checkpoint behind.
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var sorted = Sorted(tensors);
        string temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(Header(sorted, metadata));
                foreach (var t in sorted)
                    stream.Write(t.AsBytes());
                // On disk before the rename, so a power cut cannot leave the new name pointing at missing data.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Writes <c>model-0000k-of-0000n.safetensors</c> shards of at most <paramref name="maxShardBytes"/> each (a larger
    /// tensor gets a shard of its own) and <c>model.safetensors.index.json</c> into <paramref name="folder"/>.
    /// </summary>
    public static void WriteSharded(string folder, IEnumerable<Tensor> tensors, long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0)
            throw new InvalidInputException($"shard size must be positive, got {maxShardBytes}");
        Directory.CreateDirectory(folder);
        var shards = new List<List<Tensor>> { new() };
        long size = 0, total = 0;
        foreach (var t in Sorted(tensors))
        {
            if (size > 0 && size + t.ByteLength > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(t);
            size += t.ByteLength;
            total += t.ByteLength;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(folder, name), shards[i], metadata);
            foreach (var t in shards[i])
                weightMap[t.Name] = name;
        }
        var index = new { metadata = new { total_size = total }, weight_map = weightMap };
        string indexPath = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        File.WriteAllText(indexPath + ".tmp", JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(indexPath + ".tmp", indexPath, overwrite: true);
    }

    private static List<Tensor> Sorted(IEnumerable<Tensor> tensors)
    {
        var list = tensors.ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        for (int i = 1; i < list.Count; i++)
            if (list[i].Name == list[i - 1].Name)
                throw new InvalidInputException($"two tensors are named '{list[i].Name}'");
        return list;
    }

    private static byte[] Header(List<Tensor> sorted, IReadOnlyDictionary<string, string>? metadata)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata)
                    w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in sorted)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", SafetensorsFile.DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape)
                    w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.ByteLength;
            }
            w.WriteEndObject();
        }
        int length = (int)json.Length;
        int padded = (length + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.GetBuffer().AsSpan(0, length).CopyTo(header.AsSpan(8));
        header.AsSpan(8 + length).Fill((byte)' ');
        return header;
    }
}
