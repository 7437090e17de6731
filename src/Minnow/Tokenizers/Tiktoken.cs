using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers;

/// <summary>
/// OpenAI's tiktoken encodings: a <c>.tiktoken</c> rank file (<c>base64(token bytes) rank</c> per line) plus the split
/// regex and special tokens of the named encoding, which are built in here as tiktoken builds them in. Special-token
/// text in the input is ordinary text unless <c>parseSpecial</c> is set (tiktoken's <c>encode_ordinary</c> behaviour,
/// which is how the reference cases were made).
/// </summary>
public static class Tiktoken
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private const string Contractions = "'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D";

    /// <summary>What an encoding adds to its rank file: the split pattern and the special tokens with their ids.</summary>
    private sealed record Spec(string Pattern, IReadOnlyDictionary<string, int> Specials);

    private static readonly Dictionary<string, Spec> Specs = new(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt2"] = new(Gpt2Pattern, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }),
        ["r50k_base"] = new(Gpt2Pattern, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }),
        ["p50k_base"] = new(Gpt2Pattern, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }),
        ["cl100k_base"] = new(
            "(" + Contractions + @")|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            new Dictionary<string, int>
            {
                ["<|endoftext|>"] = 100257, ["<|fim_prefix|>"] = 100258, ["<|fim_middle|>"] = 100259,
                ["<|fim_suffix|>"] = 100260, ["<|endofprompt|>"] = 100276,
            }),
        ["o200k_base"] = new(
            @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(" + Contractions + @")?|"
            + @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(" + Contractions + @")?|"
            + @"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            new Dictionary<string, int> { ["<|endoftext|>"] = 199999, ["<|endofprompt|>"] = 200018 }),
    };

    /// <summary>The encoding names <see cref="Load"/> knows.</summary>
    public static IReadOnlyCollection<string> EncodingNames => Specs.Keys;

    /// <summary>The encoding a rank file's name suggests ("cl100k_base.tiktoken" is cl100k_base), or null.</summary>
    public static string? GuessEncoding(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        return Specs.ContainsKey(name) ? name : null;
    }

    /// <summary>Loads a rank file as the named encoding (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base).</summary>
    public static ITokenizer Load(string path, string encoding)
    {
        if (!Specs.TryGetValue(encoding, out var spec))
            throw new InvalidInputException($"unknown tiktoken encoding '{encoding}' (known: {string.Join(", ", Specs.Keys)})");
        var model = new TiktokenModel(ReadRanks(path), path);
        var specials = spec.Specials.Select(s => new AddedToken(s.Value, s.Key, Special: true));
        var splitter = new SplitPreTokenizer(PatternSplitter.For(spec.Pattern), SplitBehavior.Isolated, invert: false);
        return new PipelineTokenizer(model, normalizer: null, splitter, postProcessor: null, new ByteLevelDecoder(), specials,
            parseSpecialByDefault: false, bosId: null, eosId: spec.Specials["<|endoftext|>"]);
    }

    private static Dictionary<byte[], int> ReadRanks(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        var ranks = new Dictionary<byte[], int>(ByteSequenceComparer.Instance);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            int space = line.IndexOf(' ');
            byte[] bytes;
            int rank;
            try
            {
                bytes = space > 0 ? Convert.FromBase64String(line[..space]) : throw new FormatException("no space");
                rank = int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (FormatException)
            {
                throw new ModelFormatException(path, $"line {lineNumber} is not 'base64 rank'");
            }
            if (!ranks.TryAdd(bytes, rank))
                throw new ModelFormatException(path, $"line {lineNumber}: token bytes appear twice");
        }
        if (ranks.Count == 0)
            throw new ModelFormatException(path, "no ranks in the file");
        return ranks;
    }
}
