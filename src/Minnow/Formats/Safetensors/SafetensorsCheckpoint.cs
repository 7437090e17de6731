using System.Text.Json;
using Minnow.Tensors;

namespace Minnow.Formats.Safetensors;

/// <summary>
/// All tensors of a checkpoint stored as one <c>model.safetensors</c> or as shards listed by
/// <c>model.safetensors.index.json</c> (<c>{"weight_map": {tensor name: shard file}}</c>). Every shard is
/// memory-mapped; tensors are views into the maps.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _byTensor;

    /// <summary>The folder or file the checkpoint was opened from.</summary>
    public string Source { get; }

    private SafetensorsCheckpoint(string source, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> byTensor)
    {
        Source = source;
        _files = files;
        _byTensor = byTensor;
    }

    /// <summary>Opens a .safetensors file, an index.json, or a folder holding either.</summary>
    public static SafetensorsCheckpoint Open(string path)
    {
        if (Directory.Exists(path))
        {
            string index = System.IO.Path.Combine(path, IndexFileName);
            string single = System.IO.Path.Combine(path, SingleFileName);
            if (File.Exists(index))
                return OpenIndex(index);
            if (File.Exists(single))
                return OpenFiles(path, [single]);
            var any = Directory.GetFiles(path, "*.safetensors");
            if (any.Length == 1)
                return OpenFiles(path, [any[0]]);
            throw new ModelFormatException(path, $"no {SingleFileName} or {IndexFileName} in this folder");
        }
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return OpenIndex(path);
        return OpenFiles(path, [path]);
    }

    private static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var root = JsonFile.ReadObject(indexPath);
        if (!root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(indexPath, "sharded checkpoint index has no weight_map object");
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in map.EnumerateObject())
        {
            string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
            if (string.IsNullOrEmpty(shard) || shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                throw new ModelFormatException(indexPath, $"weight_map entry '{entry.Name}' names an invalid shard file");
            wanted[entry.Name] = System.IO.Path.Combine(folder, shard);
        }
        var checkpoint = OpenFiles(indexPath, wanted.Values.Distinct().OrderBy(p => p, StringComparer.Ordinal).ToList());
        foreach (var (name, shard) in wanted)
            if (!checkpoint._byTensor.TryGetValue(name, out var file) || file.Path != shard)
            {
                checkpoint.Dispose();
                throw new ModelFormatException(shard, $"the index says this shard holds '{name}', but it does not");
            }
        return checkpoint;
    }

    private static SafetensorsCheckpoint OpenFiles(string source, List<string> paths)
    {
        var files = new List<SafetensorsFile>();
        var byTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string p in paths)
            {
                var file = SafetensorsFile.Open(p);
                files.Add(file);
                foreach (var e in file.Entries)
                    if (!byTensor.TryAdd(e.Name, file))
                        throw new ModelFormatException(p, $"tensor '{e.Name}' is also in {byTensor[e.Name].Path}");
            }
            return new SafetensorsCheckpoint(source, files, byTensor);
        }
        catch
        {
            foreach (var f in files)
                f.Dispose();
            throw;
        }
    }

    public IEnumerable<string> Names => _byTensor.Keys;

    public IEnumerable<SafetensorsEntry> Entries => _files.SelectMany(f => f.Entries);

    public bool Contains(string name) => _byTensor.ContainsKey(name);

    /// <summary>The named tensor (a view into its shard's map).</summary>
    public Tensor Get(string name) =>
        _byTensor.TryGetValue(name, out var file) ? file.Tensor(name) : throw new ModelFormatException(Source, $"the checkpoint has no tensor '{name}'");

    public Tensor? TryGet(string name) => _byTensor.TryGetValue(name, out var file) ? file.Tensor(name) : null;

    public void Dispose()
    {
        foreach (var f in _files)
            f.Dispose();
    }
}
