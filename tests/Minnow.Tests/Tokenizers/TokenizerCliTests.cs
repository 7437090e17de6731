using System.Text.Json;
using Minnow.Tests.Cli;
using Minnow.Tokenizers;

namespace Minnow.Tests.Tokenizers;

/// <summary><c>minnow tokenize</c> and <c>minnow tokenizer train</c> end to end: the built CLI run as a process.</summary>
public class TokenizerCliTests
{
    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.ExitCode, result.Stdout, result.Stderr);
    }

    [Fact]
    public void TokenizesTextAsJson()
    {
        string text = "Hello world, <|endoftext|> 😀";
        var (code, stdout, stderr) = Run("tokenize", "--tokenizer", TestData.Path("tokenizers/cl100k_base/cl100k_base.tiktoken"), "--encoding", "cl100k_base", "--text", text, "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        int[] ids = json.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(ReferenceCaseTests.Get("cl100k_base").Encode(text), ids);
        Assert.Equal(ids.Length, json.GetProperty("tokens").GetArrayLength());
        Assert.Equal("Hello", json.GetProperty("tokens")[0].GetString());
    }

    [Fact]
    public void ParseSpecialAndAddSpecialOverrideTheDefaults()
    {
        string mistral = TestData.Path("tokenizers/mistral7b/tokenizer.json");
        Assert.Equal("{\"ids\":[1],\"tokens\":[\"<s>\"]}", Run("tokenize", "--tokenizer", mistral, "--text", "<s>", "--json").Stdout.Trim());
        var plain = JsonDocument.Parse(Run("tokenize", "--tokenizer", mistral, "--text", "<s>", "--parse-special", "false", "--json").Stdout).RootElement;
        Assert.Equal(ReferenceCaseTests.Get("mistral7b").Encode("<s>", parseSpecial: false), plain.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.True(plain.GetProperty("ids").GetArrayLength() > 1);
        var llama = JsonDocument.Parse(Run("tokenize", "--tokenizer", TestData.Path("tokenizers/llama2/tokenizer.model"), "--text", "Hello", "--add-special", "--json").Stdout).RootElement;
        Assert.Equal([1, 15043], llama.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void ReadableListingWithoutJson()
    {
        var (code, stdout, _) = Run("tokenize", "--tokenizer", TestData.Path("tokenizers/gpt2/encoder.json"), "--text", "Hello world");
        Assert.Equal(0, code);
        Assert.StartsWith("2 tokens", stdout);
        Assert.Contains("15496", stdout);
        Assert.Contains("\"Ġworld\"", stdout);
    }

    [Fact]
    public void EncodesJsonLinesInOrder()
    {
        string input = Path.Combine(Path.GetTempPath(), $"minnow-tok-{Guid.NewGuid():N}.jsonl");
        try
        {
            string[] texts = ["first line", "", "第二行 😀", "<s> third"];
            File.WriteAllLines(input, texts.Select(t => JsonSerializer.Serialize(new { text = t })));
            var (code, stdout, stderr) = Run("tokenize", "--tokenizer", TestData.Path("tokenizers/mistral7b/tokenizer.json"), "--input", input);
            Assert.True(code == 0, stderr);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(texts.Length, lines.Length);
            var mistral = ReferenceCaseTests.Get("mistral7b");
            for (int i = 0; i < texts.Length; i++)
            {
                var line = JsonDocument.Parse(lines[i]).RootElement;
                Assert.Equal(texts[i], line.GetProperty("text").GetString());
                Assert.Equal(mistral.Encode(texts[i]), line.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
            }
        }
        finally { File.Delete(input); }
    }

    [Fact]
    public void TrainsATokenizerTheLoaderReads()
    {
        string corpus = Path.Combine(Path.GetTempPath(), $"minnow-corpus-{Guid.NewGuid():N}.txt");
        string output = Path.Combine(Path.GetTempPath(), $"minnow-tok-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(corpus, File.ReadAllText(TestData.Path("corpora/tinyshakespeare.txt"))[..30_000]);
            var (code, stdout, stderr) = Run("tokenizer", "train", "--input", corpus, "--vocab-size", "400", "--special", "<|endoftext|>", "<|pad|>", "--output", output, "--json");
            Assert.True(code == 0, stderr);
            Assert.Contains("merges", stderr);
            Assert.Equal(400, JsonDocument.Parse(stdout).RootElement.GetProperty("vocab_size").GetInt32());
            var tokenizer = TokenizerLoader.Load(output);
            Assert.Equal([0, 1], tokenizer.Encode("<|endoftext|><|pad|>"));
            Assert.Equal("Thou art 😀", tokenizer.Decode(tokenizer.Encode("Thou art 😀")));

            (code, _, stderr) = Run("tokenizer", "train", "--input", corpus, "--vocab-size", "300", "--kind", "char", "--output", output);
            Assert.True(code == 0, stderr);
            Assert.Equal(300, TokenizerLoader.Load(output).VocabSize);
        }
        finally
        {
            File.Delete(corpus);
            File.Delete(output);
        }
    }

    [Fact]
    public void BadInputIsOneLineAndExitCodeOne()
    {
        var (code, stdout, stderr) = Run("tokenize", "--tokenizer", "/no/such/tokenizer.json", "--text", "x");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal("error: /no/such/tokenizer.json: file not found", stderr.Trim());
        (code, _, stderr) = Run("tokenize", "--tokenizer", TestData.Path("tokenizers/gpt2/encoder.json"));
        Assert.Equal(1, code);
        Assert.Contains("--text", stderr);
        (code, _, stderr) = Run("tokenize", "--tokenizer", TestData.Path("tokenizers/cl100k_base/cl100k_base.tiktoken"), "--encoding", "p99k", "--text", "x");
        Assert.Equal(1, code);
        Assert.Contains("unknown tiktoken encoding 'p99k'", stderr);
        (code, _, stderr) = Run("tokenizer", "train", "--input", TestData.Path("corpora/tinyshakespeare.txt"), "--vocab-size", "10", "--output", "/tmp/never.json");
        Assert.Equal(1, code);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
