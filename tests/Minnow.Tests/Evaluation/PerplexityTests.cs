using Minnow.Evaluation;
using Minnow.Models;

namespace Minnow.Tests.Evaluation;

public class PerplexityTests
{
    private static LlamaModel Model(int context) => new(Config(context), RandomWeights.Llama(Config(context), 3, 0.3f), 2);

    private static ModelConfig Config(int context) => new()
    {
        Dim = 32, HiddenDim = 48, Layers = 2, Heads = 4, KvHeads = 2, VocabSize = 259, ContextLength = context, TiedEmbeddings = true,
    };

    private const string Text = "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and arrows.";

    [Fact]
    public void ATextThatFitsIsScoredInOnePass()
    {
        using var model = Model(256);
        var tokenizer = Minnow.Tests.Chat.ChatTestModel.ByteTokenizer();
        var result = Perplexity.Evaluate(model, tokenizer, Text);
        int[] ids = tokenizer.Encode(Text, addSpecial: true);
        Assert.Equal(ids.Length - 1, result.Tokens);
        Assert.Equal(Scorer.Score(model, ids).MeanNll, result.MeanLoss, 9);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Text), result.Bytes);
        Assert.Equal(result.MeanLoss * result.Tokens / (result.Bytes * Math.Log(2)), result.BitsPerByte, 12);
    }

    [Fact]
    public void SlidingWindowsScoreEveryTokenOnceWithHalfAContextOfHistory()
    {
        using var model = Model(256);
        var tokenizer = Minnow.Tests.Chat.ChatTestModel.ByteTokenizer();
        int[] ids = tokenizer.Encode(Text, addSpecial: true);
        const int window = 16;
        var result = Perplexity.Evaluate(model, ids, 1000, contextLength: window);
        Assert.Equal(ids.Length - 1, result.Tokens);

        // The same numbers computed plainly: target t is scored in the first window [b, b+16) with b = 8k that holds it.
        double total = 0;
        for (int t = 1; t < ids.Length; t++)
        {
            int begin = t < window ? 0 : (t - window) / (window / 2) * (window / 2) + window / 2;
            while (begin + window <= t) begin += window / 2;
            var score = Scorer.Score(model, ids[begin..(t + 1)]);
            total -= score.TokenLogprobs[^1];
        }
        Assert.Equal(total / (ids.Length - 1), result.MeanLoss, 5);
    }

    [Fact]
    public void TooShortTextIsAClearError()
    {
        using var model = Model(64);
        Assert.Throws<InvalidInputException>(() => Perplexity.Evaluate(model, [1], 1));
    }
}
