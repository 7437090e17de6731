using System.Text;
using System.Text.Json;
using Minnow.Tokenizers;

namespace Minnow.Tests.Tokenizers;

/// <summary>One line of a reference <c>cases.jsonl</c> (see ../shared/data/SOURCES.md for how each was made).</summary>
public sealed record ReferenceCase(int Line, string Text, int[] Ids, string Decoded);

/// <summary>Reads reference cases and checks a tokenizer against all of them, reporting every mismatch.</summary>
public static class ReferenceCases
{
    public static IReadOnlyList<ReferenceCase> Read(string directory) => ReadFile(TestData.Path($"tokenizers/{directory}/cases.jsonl"));

    public static IReadOnlyList<ReferenceCase> ReadFile(string path) =>
        File.ReadLines(path).Select((line, i) =>
        {
            var c = JsonDocument.Parse(line).RootElement;
            return new ReferenceCase(i + 1, c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                c.GetProperty("decoded").GetString()!);
        }).ToList();

    /// <summary>Asserts every case encodes to its ids; the message lists the mismatches.</summary>
    public static void AssertEncodes(ITokenizer tokenizer, string directory, int expectedCount) =>
        AssertEncodes(tokenizer, Read(directory), directory, expectedCount);

    public static void AssertEncodes(ITokenizer tokenizer, IReadOnlyList<ReferenceCase> cases, string directory, int expectedCount)
    {
        Assert.Equal(expectedCount, cases.Count);
        var failures = new StringBuilder();
        int matched = 0;
        foreach (var c in cases)
        {
            int[] ids = tokenizer.Encode(c.Text);
            if (ids.AsSpan().SequenceEqual(c.Ids))
                matched++;
            else if (failures.Length < 4000)
                failures.AppendLine($"line {c.Line}: {JsonSerializer.Serialize(c.Text)}\n  expected [{string.Join(",", c.Ids)}]\n  actual   [{string.Join(",", ids)}]");
        }
        Assert.True(matched == cases.Count, $"{directory}: {matched}/{cases.Count} encode exactly\n{failures}");
    }

    /// <summary>Asserts every case's ids decode to the reference decode.</summary>
    public static void AssertDecodes(ITokenizer tokenizer, string directory) => AssertDecodes(tokenizer, Read(directory), directory);

    public static void AssertDecodes(ITokenizer tokenizer, IReadOnlyList<ReferenceCase> cases, string directory)
    {
        var failures = new StringBuilder();
        int matched = 0;
        foreach (var c in cases)
        {
            string text = tokenizer.Decode(c.Ids);
            if (text == c.Decoded)
                matched++;
            else if (failures.Length < 4000)
                failures.AppendLine($"line {c.Line}: expected {JsonSerializer.Serialize(c.Decoded)}\n  actual {JsonSerializer.Serialize(text)}");
        }
        Assert.True(matched == cases.Count, $"{directory}: {matched}/{cases.Count} decode exactly\n{failures}");
    }
}

/// <summary>Every reference case of every tokenizer in ../shared/data/tokenizers, ids and decode, through <see cref="TokenizerLoader"/>.</summary>
public class ReferenceCaseTests
{
    private static readonly Dictionary<string, Lazy<ITokenizer>> Tokenizers = new()
    {
        ["llama2"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/llama2/tokenizer.model"))),
        ["mistral7b"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/mistral7b/tokenizer.json"))),
        ["llama3"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/llama3/tokenizer.json"))),
        ["qwen3"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/qwen3/tokenizer.json"))),
        ["gpt2-encoder"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/gpt2/encoder.json"))),
        ["gpt2-tiktoken"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/gpt2/r50k_base.tiktoken"), "r50k_base")),
        ["cl100k_base"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/cl100k_base/cl100k_base.tiktoken"), "cl100k_base")),
        ["o200k_base"] = new(() => TokenizerLoader.Load(TestData.Path("tokenizers/o200k_base/o200k_base.tiktoken"), "o200k_base")),
    };

    /// <summary>Shared with other test classes so each big tokenizer is loaded once per run.</summary>
    internal static ITokenizer Get(string name) => Tokenizers[name].Value;

    [Theory]
    [InlineData("llama2", "llama2", 100)]
    [InlineData("mistral7b", "mistral7b", 100)]
    [InlineData("llama3", "llama3", 100)]
    [InlineData("qwen3", "qwen3", 100)]
    [InlineData("gpt2-encoder", "gpt2", 99)]
    [InlineData("gpt2-tiktoken", "gpt2", 99)]
    [InlineData("cl100k_base", "cl100k_base", 99)]
    [InlineData("o200k_base", "o200k_base", 99)]
    public void EncodesEveryCaseExactly(string tokenizer, string directory, int count) =>
        ReferenceCases.AssertEncodes(Get(tokenizer), directory, count);

    [Theory]
    [InlineData("llama2", "llama2")]
    [InlineData("mistral7b", "mistral7b")]
    [InlineData("llama3", "llama3")]
    [InlineData("qwen3", "qwen3")]
    [InlineData("gpt2-encoder", "gpt2")]
    [InlineData("gpt2-tiktoken", "gpt2")]
    [InlineData("cl100k_base", "cl100k_base")]
    [InlineData("o200k_base", "o200k_base")]
    public void DecodesEveryCaseExactly(string tokenizer, string directory) =>
        ReferenceCases.AssertDecodes(Get(tokenizer), directory);

    /// <summary>
    /// 300 random stress strings per tokenizer (scripts, emoji sequences, marks, special-token text, whitespace of every
    /// kind), encoded by the same references (Fixtures/random, made by tools/gen_random_reference_cases.js).
    /// </summary>
    [Theory]
    [InlineData("llama2", "llama2")]
    [InlineData("mistral7b", "mistral7b")]
    [InlineData("llama3", "llama3")]
    [InlineData("qwen3", "qwen3")]
    [InlineData("gpt2-encoder", "gpt2")]
    [InlineData("gpt2-tiktoken", "gpt2")]
    [InlineData("cl100k_base", "cl100k_base")]
    [InlineData("o200k_base", "o200k_base")]
    public void MatchesTheReferencesOnRandomStrings(string tokenizer, string file)
    {
        var cases = ReferenceCases.ReadFile(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "Fixtures", "random", file + ".jsonl"));
        ReferenceCases.AssertEncodes(Get(tokenizer), cases, file, 300);
        ReferenceCases.AssertDecodes(Get(tokenizer), cases, file);
    }
}
