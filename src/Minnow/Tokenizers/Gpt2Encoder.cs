using System.Text.Json;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;

namespace Minnow.Tokenizers;

/// <summary>
/// OpenAI GPT-2's original files: <c>encoder.json</c> (token → id, tokens in the byte alphabet) and <c>vocab.bpe</c>
/// (one merge per line, in priority order, after a "#version" line). Loaded as byte-level BPE with GPT-2's split regex;
/// "&lt;|endoftext|&gt;" in the input is plain text unless <c>parseSpecial</c> is set.
/// </summary>
public static class Gpt2Encoder
{
    /// <summary>Loads encoder.json and the vocab.bpe beside it (or at <paramref name="mergesPath"/>).</summary>
    public static ITokenizer Load(string encoderPath, string? mergesPath = null)
    {
        mergesPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(encoderPath))!, "vocab.bpe");
        if (!File.Exists(encoderPath))
            throw new FileNotFoundException($"{encoderPath}: file not found", encoderPath);
        if (!File.Exists(mergesPath))
            throw new ModelFormatException(encoderPath, $"GPT-2's merges file {mergesPath} is missing (vocab.bpe must sit beside encoder.json)");
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(encoderPath))
                ?? throw new ModelFormatException(encoderPath, "encoder.json is null");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(encoderPath, $"not a token → id JSON object: {e.Message}");
        }
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
                continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2)
                throw new ModelFormatException(mergesPath, $"line {lineNumber} is not a merge 'left right'");
            merges.Add((parts[0], parts[1]));
        }
        var model = new BpeModel(vocab, merges, new BpeOptions(), encoderPath);
        var specials = vocab.TryGetValue("<|endoftext|>", out int eos) ? [new AddedToken(eos, "<|endoftext|>", Special: true)] : Array.Empty<AddedToken>();
        return new PipelineTokenizer(model, normalizer: null, new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true), postProcessor: null,
            new ByteLevelDecoder(), specials, parseSpecialByDefault: false, bosId: null, eosId: specials.Length > 0 ? eos : null);
    }
}
