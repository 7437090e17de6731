using System.Text;
using Minnow.Tensors;

namespace Minnow.Formats.Gguf;

/// <summary>
/// Writes GGUF v3: the key-values in the order given, tensor infos, then each tensor's bytes at
/// <see cref="GgufFile.DefaultAlignment"/> (or general.alignment). Written to a temporary file and renamed, so a
/// failure never leaves a half-written model behind.
/// </summary>
public static class GgufWriter
{
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<Tensor> tensors)
    {
        int alignment = GgufFile.DefaultAlignment;
        foreach (var (key, value) in metadata)
            if (key == "general.alignment")
                alignment = Convert.ToInt32(value.Value);
        string temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(GgufFile.Magic);
                w.Write(3u);
                w.Write((ulong)tensors.Count);
                w.Write((ulong)metadata.Count);
                foreach (var (key, value) in metadata)
                {
                    WriteString(w, key);
                    w.Write((uint)value.Type);
                    WriteValue(w, value);
                }
                long offset = 0;
                var offsets = new long[tensors.Count];
                for (int i = 0; i < tensors.Count; i++)
                {
                    var t = tensors[i];
                    WriteString(w, t.Name);
                    w.Write((uint)t.Shape.Length);
                    for (int d = t.Shape.Length - 1; d >= 0; d--)
                        w.Write((ulong)t.Shape[d]);
                    w.Write((uint)TypeId(t.DType));
                    offsets[i] = offset;
                    w.Write((ulong)offset);
                    offset = Align(offset + t.ByteLength, alignment);
                }
                w.Flush();
                Pad(stream, alignment);
                long dataStart = stream.Position;
                for (int i = 0; i < tensors.Count; i++)
                {
                    stream.Position = dataStart + offsets[i];
                    stream.Write(tensors[i].AsBytes());
                }
                Pad(stream, alignment);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static long Align(long x, int alignment) => (x + alignment - 1) / alignment * alignment;

    private static void Pad(Stream stream, int alignment)
    {
        long padding = Align(stream.Position, alignment) - stream.Position;
        for (long i = 0; i < padding; i++)
            stream.WriteByte(0);
    }

    private static int TypeId(DType t) => t switch
    {
        DType.F32 or DType.F16 or DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1 or DType.Q8_0 or DType.Q2_K or DType.Q3_K
            or DType.Q4_K or DType.Q5_K or DType.Q6_K or DType.BF16 => (int)t,
        _ => throw new InvalidInputException($"{t} tensors cannot be stored in GGUF by Minnow"),
    };

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Type == GgufType.Array)
        {
            var array = (Array)v.Value;
            w.Write((uint)v.ElementType);
            w.Write((ulong)array.Length);
            foreach (var item in array)
                WriteScalar(w, v.ElementType, item!);
            return;
        }
        WriteScalar(w, v.Type, v.Value);
    }

    private static void WriteScalar(BinaryWriter w, GgufType type, object value)
    {
        switch (type)
        {
            case GgufType.UInt8: w.Write(Convert.ToByte(value)); break;
            case GgufType.Int8: w.Write(Convert.ToSByte(value)); break;
            case GgufType.UInt16: w.Write(Convert.ToUInt16(value)); break;
            case GgufType.Int16: w.Write(Convert.ToInt16(value)); break;
            case GgufType.UInt32: w.Write(Convert.ToUInt32(value)); break;
            case GgufType.Int32: w.Write(Convert.ToInt32(value)); break;
            case GgufType.Float32: w.Write(Convert.ToSingle(value)); break;
            case GgufType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufType.String: WriteString(w, (string)value); break;
            case GgufType.UInt64: w.Write(Convert.ToUInt64(value)); break;
            case GgufType.Int64: w.Write(Convert.ToInt64(value)); break;
            case GgufType.Float64: w.Write(Convert.ToDouble(value)); break;
            default: throw new InvalidInputException($"cannot write a GGUF value of type {type}");
        }
    }
}
