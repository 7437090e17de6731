using Minnow.Tokenizers;
using Minnow.Tokenizers.Training;

namespace Minnow.Tests.Tokenizers;

/// <summary>BPE and character trainers: the saved tokenizer.json reloads to the same tokenizer, and any text round-trips.</summary>
public class TrainerTests
{
    private static readonly Lazy<string> Corpus = new(() => File.ReadAllText(TestData.Path("corpora/tinyshakespeare.txt"))[..60_000]);
    private static readonly string[] Specials = ["<|endoftext|>", "<|pad|>"];

    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"minnow-tok-{Guid.NewGuid():N}.json");

    [Fact]
    public void BpeTrainsSavesAndReloads()
    {
        var reports = new List<TokenizerTrainingProgress>();
        var trained = BpeTrainer.Train([Corpus.Value], 700, Specials, new SyncProgress(reports.Add));
        Assert.Equal(700, trained.VocabSize);
        Assert.Equal(0, trained.TokenToId("<|endoftext|>"));
        Assert.Contains(reports, r => r.Phase == "merging" && r.Done == r.Total && r.Total == 700 - 258);
        string path = TempFile();
        try
        {
            TokenizerJson.Save(trained, path);
            var loaded = TokenizerLoader.Load(path);
            Assert.Equal(trained.VocabSize, loaded.VocabSize);
            var random = new Random(3);
            var samples = new List<string> { "To be, or not to be: that is the question.", "First Citizen:\nBefore we proceed", "<|endoftext|>next<|pad|>" };
            for (int i = 0; i < 100; i++)
                samples.Add(RobustnessTests.RandomText(random));
            foreach (string text in samples)
            {
                int[] ids = trained.Encode(text);
                Assert.Equal(ids, loaded.Encode(text));
                Assert.Equal(text, loaded.Decode(ids));
            }
            Assert.Equal([0], loaded.Encode("<|endoftext|>"));
            // Frequent words became single tokens.
            Assert.Single(loaded.Encode(" the"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BpeTrainingIsDeterministic()
    {
        string first = TempFile(), second = TempFile();
        try
        {
            TokenizerJson.Save(BpeTrainer.Train([Corpus.Value[..20_000]], 400), first);
            TokenizerJson.Save(BpeTrainer.Train([Corpus.Value[..20_000]], 400), second);
            Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        }
        finally
        {
            File.Delete(first);
            File.Delete(second);
        }
    }

    [Fact]
    public void BpeStopsWhenNoPairRepeats()
    {
        var tokenizer = BpeTrainer.Train(["abc abd"], 10_000);
        // " ab" is not there; "ab" occurs twice, so exactly one merge.
        Assert.Equal(257, tokenizer.VocabSize);
    }

    [Fact]
    public void CharTokenizerFallsBackToBytes()
    {
        var trained = CharTokenizerTrainer.Train([Corpus.Value], 300, Specials);
        Assert.Equal(300, trained.VocabSize);
        string path = TempFile();
        try
        {
            TokenizerJson.Save(trained, path);
            var loaded = TokenizerLoader.Load(path);
            string text = "Hello 😀 日本 <|pad|>!";
            int[] ids = loaded.Encode(text);
            Assert.Equal(trained.Encode(text), ids);
            Assert.Equal(text, loaded.Decode(ids));
            Assert.Contains(1, ids);
            var random = new Random(9);
            for (int i = 0; i < 100; i++)
            {
                string sample = RobustnessTests.RandomText(random);
                Assert.Equal(sample, loaded.Decode(loaded.Encode(sample)));
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TooSmallAVocabularyIsAClearError()
    {
        var e = Assert.Throws<InvalidInputException>(() => BpeTrainer.Train(["text"], 100, Specials));
        Assert.Contains("258", e.Message);
        Assert.Throws<InvalidInputException>(() => CharTokenizerTrainer.Train(["text"], 10));
    }

    private sealed class SyncProgress(Action<TokenizerTrainingProgress> report) : IProgress<TokenizerTrainingProgress>
    {
        public void Report(TokenizerTrainingProgress value) => report(value);
    }
}
