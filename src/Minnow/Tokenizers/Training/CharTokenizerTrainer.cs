using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;

namespace Minnow.Tokenizers.Training;

/// <summary>
/// Builds a character-level tokenizer for tiny experiments: the special tokens, the 256 "&lt;0xXX&gt;" byte tokens, then
/// the corpus's most frequent characters (ties in code-point order) up to the vocabulary size. A character outside the
/// vocabulary is spelled as its UTF-8 bytes (byte fallback), so any text encodes and decodes back exactly. Saved as an
/// HF tokenizer.json: a BPE model with no merges and <c>byte_fallback</c>, decoded by ByteFallback + Fuse.
/// </summary>
public static class CharTokenizerTrainer
{
    public static ITokenizer Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string>? specialTokens = null,
        IProgress<TokenizerTrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        specialTokens ??= [];
        int baseSize = BpeTrainer.BaseSize(vocabSize, specialTokens);

        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long read = 0;
        foreach (string text in texts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (int i = 0; i < text.Length;)
            {
                int units = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                // A lone surrogate is not a character (it encodes as U+FFFD's bytes); leave it to byte fallback.
                if (units == 1 && char.IsSurrogate(text[i]))
                {
                    i++;
                    continue;
                }
                string character = text.Substring(i, units);
                counts[character] = counts.GetValueOrDefault(character) + 1;
                i += units;
            }
            read += text.Length;
            progress?.Report(new TokenizerTrainingProgress("counting", read, 0));
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string special in specialTokens)
            vocab[special] = vocab.Count;
        for (int b = 0; b < 256; b++)
            vocab[$"<0x{b:X2}>"] = vocab.Count;
        foreach (var (character, _) in counts.OrderByDescending(c => c.Value).ThenBy(c => char.ConvertToUtf32(c.Key, 0)))
        {
            if (vocab.Count >= vocabSize)
                break;
            vocab.TryAdd(character, vocab.Count);
        }
        progress?.Report(new TokenizerTrainingProgress("merging", 1, 1));
        var model = new BpeModel(vocab, [], new BpeOptions { ByteFallback = true });
        var added = specialTokens.Select((token, id) => new AddedToken(id, token, Special: true));
        return new PipelineTokenizer(model, normalizer: null, preTokenizer: null, postProcessor: null,
            new SequenceDecoder([new ByteFallbackDecoder(), new FuseDecoder()]), added, parseSpecialByDefault: true);
    }
}
