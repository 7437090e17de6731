using System.Text;
using Minnow.Tokenizers;
using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Text;

namespace Minnow.Tests.Tokenizers;

/// <summary>
/// Inputs that break naive tokenizers: empty text, control characters, lone surrogates, a 100,000-character word, a
/// megabyte of spaces. The work of the pathological inputs is bounded by counting BPE merge steps (heap pops), never
/// by timing. And the round-trip property decode(encode(x)) == x on random Unicode for every byte-level tokenizer.
/// </summary>
public class RobustnessTests
{
    private static readonly string[] All = ["llama2", "mistral7b", "llama3", "qwen3", "gpt2-encoder", "gpt2-tiktoken", "cl100k_base", "o200k_base"];
    private static readonly string[] ByteLevel = ["llama3", "qwen3", "gpt2-encoder", "gpt2-tiktoken", "cl100k_base", "o200k_base"];

    public static IEnumerable<object[]> AllTokenizers() => All.Select(name => new object[] { name });
    public static IEnumerable<object[]> ByteLevelTokenizers() => ByteLevel.Select(name => new object[] { name });

    [Theory]
    [MemberData(nameof(AllTokenizers))]
    public void EmptyTextIsNoTokens(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        Assert.Empty(tokenizer.Encode(""));
        Assert.Equal("", tokenizer.Decode([]));
    }

    [Theory]
    [MemberData(nameof(AllTokenizers))]
    public void ControlCharactersRoundTrip(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        string text = "a\0b\u0001\u001b[31mred\u001b[0m\u007f\u0085\u200b\u2028\uFEFFz\r\n\t";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    /// <summary>The documented rule: a lone surrogate cannot be UTF-8, so it is encoded as U+FFFD (as Encoding.UTF8 does).</summary>
    [Theory]
    [MemberData(nameof(AllTokenizers))]
    public void LoneSurrogatesBecomeReplacementCharacters(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        Assert.Equal("a\uFFFDb\uFFFD", tokenizer.Decode(tokenizer.Encode("a\uD800b\uDC00")));
    }

    [Theory]
    [MemberData(nameof(AllTokenizers))]
    public void HundredThousandCharacterWordTakesLinearlyManyMergeSteps(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        var random = new Random(5);
        string word = string.Create(100_000, random, (chars, r) =>
        {
            for (int i = 0; i < chars.Length; i++)
                chars[i] = (char)('a' + r.Next(26));
        });
        long before = BytePairMerger.Steps;
        int[] ids = tokenizer.Encode(word);
        long steps = BytePairMerger.Steps - before;
        // Every pop of the heap either merges (at most n - 1 times) or drops an entry pushed by a merge (two per merge).
        Assert.InRange(steps, 1, 3 * word.Length);
        Assert.Equal(word, tokenizer.Decode(ids));
    }

    [Theory]
    [InlineData("cl100k_base")]
    [InlineData("gpt2-encoder")]
    [InlineData("llama2")]
    [InlineData("mistral7b")]
    public void MegabyteOfWhitespaceTakesLinearlyManyMergeSteps(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        string spaces = new(' ', 1 << 20);
        long before = BytePairMerger.Steps;
        int[] ids = tokenizer.Encode(spaces);
        long steps = BytePairMerger.Steps - before;
        // (GPT-2 has no multi-space tokens, so nothing merges there: zero steps.)
        Assert.InRange(steps, 0, 3L * (spaces.Length + 1));
        Assert.Equal(spaces, tokenizer.Decode(ids));
    }

    /// <summary>Random text of any Unicode scalar values (all planes, controls, marks, unassigned) survives encode then decode.</summary>
    [Theory]
    [MemberData(nameof(ByteLevelTokenizers))]
    public void DecodeOfEncodeIsIdentityOnRandomUnicode(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        var random = new Random(name.Length * 7919);
        for (int round = 0; round < 200; round++)
        {
            string text = RandomText(random);
            // Qwen3 normalizes to NFC first, so what comes back is the NFC form.
            string expected = name == "qwen3" ? UnicodeNormalization.Normalize(text, NormalizationForm.FormC) : text;
            Assert.Equal(expected, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    /// <summary>Mostly ASCII words and spaces, with characters from anywhere in Unicode mixed in.</summary>
    internal static string RandomText(Random random)
    {
        var builder = new StringBuilder();
        int length = random.Next(0, 40);
        for (int i = 0; i < length; i++)
        {
            int kind = random.Next(10);
            int cp = kind switch
            {
                < 4 => random.Next(0x20, 0x7F),
                4 => " \n\t\r"[random.Next(4)],
                5 => random.Next(0, 0x20),
                6 => random.Next(0x80, 0x800),
                7 => random.Next(0x800, 0x10000),
                _ => random.Next(0x10000, 0x110000),
            };
            if (cp is >= 0xD800 and < 0xE000)
                cp = 0xFFFD;
            builder.Append(char.ConvertFromUtf32(cp));
        }
        return builder.ToString();
    }

    [Theory]
    [MemberData(nameof(AllTokenizers))]
    public void IncrementalDecodingEmitsWholeCharactersOnly(string name)
    {
        ITokenizer tokenizer = ReferenceCaseTests.Get(name);
        string text = "Emoji 😀👍🏽 and ünïcödé, 日本語 text";
        var decoder = tokenizer.CreateIncrementalDecoder();
        var pieces = tokenizer.Encode(text).Select(decoder.Push).ToList();
        pieces.Add(decoder.Flush());
        Assert.Equal(tokenizer.Decode(tokenizer.Encode(text)), string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
    }

    /// <summary>
    /// Two independent routes to the same vocabulary must agree on random text: GPT-2 through encoder.json/vocab.bpe
    /// (HF BPE with merge ranks) and through r50k_base.tiktoken (tiktoken's rank-of-concatenation merging); Llama 2
    /// through SentencePiece's .model and llama2.c's tokenizer.bin (which cannot read a literal '▁', so none is generated).
    /// </summary>
    [Theory]
    [InlineData("gpt2-encoder", "gpt2-tiktoken")]
    [InlineData("llama2", "llama2c")]
    public void IndependentImplementationsAgree(string first, string second)
    {
        var a = ReferenceCaseTests.Get(first);
        var b = second == "llama2c" ? Llama2cTokenizer.Load(TestData.Path("tokenizers/llama2/tokenizer.bin")) : ReferenceCaseTests.Get(second);
        var random = new Random(17);
        for (int round = 0; round < 500; round++)
        {
            string text = RandomText(random).Replace('\u2581', '_');
            Assert.True(a.Encode(text).SequenceEqual(b.Encode(text)), System.Text.Json.JsonSerializer.Serialize(text));
        }
    }

    /// <summary>One tokenizer shared by threads gives every thread the answer it gives alone (caches are per thread).</summary>
    [Theory]
    [InlineData("cl100k_base")]
    [InlineData("llama2")]
    [InlineData("qwen3")]
    public void EncodingIsThreadSafe(string name)
    {
        var tokenizer = ReferenceCaseTests.Get(name);
        var random = new Random(23);
        string[] texts = Enumerable.Range(0, 64).Select(_ => RandomText(random)).ToArray();
        int[][] expected = texts.Select(t => tokenizer.Encode(t)).ToArray();
        Parallel.For(0, 256, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            Assert.Equal(expected[i % texts.Length], tokenizer.Encode(texts[i % texts.Length])));
    }

    [Fact]
    public void UnknownIdsAreClearErrors()
    {
        foreach (string name in All)
        {
            var tokenizer = ReferenceCaseTests.Get(name);
            Assert.Throws<InvalidInputException>(() => tokenizer.Decode([tokenizer.VocabSize + 5]));
            Assert.Throws<InvalidInputException>(() => tokenizer.IdToToken(-1));
        }
    }
}
