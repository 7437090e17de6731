using Minnow.Tokenizers.Models;
using Minnow.Tokenizers.Pipeline;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Training;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2 style) from text. The corpus is split with GPT-2's regex and counted as
/// distinct words; every word starts as its UTF-8 bytes, and the most frequent adjacent pair (ties: the smaller ids)
/// becomes a new token, until the vocabulary reaches the target or no pair occurs twice. Pair counts are updated only
/// for the words that contain the merged pair, and a priority queue with lazy deletion picks the next pair, so a merge
/// costs time in proportion to the words it touches rather than to the corpus. Since all 256 bytes are in the base
/// vocabulary, any text encodes. The result is an HF-compatible tokenizer (see <see cref="TokenizerJson.Save"/>).
/// </summary>
public static class BpeTrainer
{
    private static readonly PatternSplitter Gpt2 = new GptSplitter(GptSplitter.Flavor.Gpt2, GptSplitter.ContractionCase.LowerOnly);

    /// <summary>
    /// Checks the special tokens and the vocabulary size of a byte-based tokenizer and returns its base size: the
    /// special tokens plus the 256 bytes (shared by the trainers).
    /// </summary>
    internal static int BaseSize(int vocabSize, IReadOnlyList<string> specialTokens)
    {
        if (specialTokens.Distinct().Count() != specialTokens.Count || specialTokens.Any(string.IsNullOrEmpty))
            throw new InvalidInputException("special tokens must be distinct and non-empty");
        int baseSize = specialTokens.Count + 256;
        if (vocabSize < baseSize)
            throw new InvalidInputException($"--vocab-size {vocabSize} is smaller than the {baseSize} base tokens (256 bytes + {specialTokens.Count} special)");
        return baseSize;
    }

    /// <summary>
    /// Trains on <paramref name="texts"/>. Ids: the special tokens first, then the 256 bytes, then merges in order.
    /// </summary>
    public static ITokenizer Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string>? specialTokens = null,
        IProgress<TokenizerTrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        specialTokens ??= [];
        int baseSize = BaseSize(vocabSize, specialTokens);

        // Distinct words and how often each occurs.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var matches = new List<(int Start, int End)>();
        long read = 0;
        foreach (string text in texts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            matches.Clear();
            Gpt2.FindAll(text, matches);
            foreach (var (start, end) in matches)
            {
                var word = text.AsSpan(start, end - start);
                lookup.TryGetValue(word, out int count);
                lookup[word] = count + 1;
            }
            read += text.Length;
            progress?.Report(new TokenizerTrainingProgress("counting", read, 0));
        }

        var tokens = new List<string>(vocabSize);
        tokens.AddRange(specialTokens);
        for (int b = 0; b < 256; b++)
            tokens.Add(ByteLevelAlphabet.ByteToChar[b].ToString());
        var words = new List<int[]>(counts.Count);
        var frequencies = new List<int>(counts.Count);
        foreach (var (word, count) in counts)
        {
            words.Add(System.Text.Encoding.UTF8.GetBytes(word).Select(b => specialTokens.Count + b).ToArray());
            frequencies.Add(count);
        }
        var merges = Merge(words, frequencies, tokens, vocabSize, progress, cancellationToken);

        var vocab = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
            vocab.TryAdd(tokens[id], id);
        var model = new BpeModel(vocab, merges, new BpeOptions());
        var added = specialTokens.Select((token, id) => new AddedToken(id, token, Special: true));
        return new PipelineTokenizer(model, normalizer: null, new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true), postProcessor: null,
            new ByteLevelDecoder(), added, parseSpecialByDefault: true);
    }

    /// <summary>The merge loop: word symbol arrays shrink in place as pairs merge; new tokens are appended to <paramref name="tokens"/>.</summary>
    private static List<(string, string)> Merge(List<int[]> words, List<int> frequencies, List<string> tokens, int vocabSize,
        IProgress<TokenizerTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var pairCounts = new Dictionary<long, long>(PairKeyComparer.Instance);
        var wordsWithPair = new Dictionary<long, HashSet<int>>(PairKeyComparer.Instance);
        var lengths = words.Select(w => w.Length).ToArray();
        var changed = new HashSet<long>();
        for (int w = 0; w < words.Count; w++)
            AddPairs(w, +1);

        // Max-heap by count (ties: smaller pair first) with lazy deletion: an entry whose count is stale is dropped.
        var queue = new PriorityQueue<long, (long NegativeCount, long Pair)>();
        foreach (var (pair, count) in pairCounts)
            queue.Enqueue(pair, (-count, pair));

        var merges = new List<(string, string)>();
        int target = vocabSize - tokens.Count;
        while (tokens.Count < vocabSize && queue.TryDequeue(out long best, out var priority))
        {
            cancellationToken.ThrowIfCancellationRequested();
            long count = pairCounts.GetValueOrDefault(best);
            if (count != -priority.NegativeCount)
                continue;
            if (count < 2)
                break;
            int left = (int)(best >> 32), right = (int)best, merged = tokens.Count;
            tokens.Add(tokens[left] + tokens[right]);
            merges.Add((tokens[left], tokens[right]));
            changed.Clear();
            foreach (int w in wordsWithPair[best])
            {
                AddPairs(w, -1);
                lengths[w] = MergeInWord(words[w], lengths[w], left, right, merged);
                AddPairs(w, +1);
            }
            pairCounts.Remove(best);
            wordsWithPair.Remove(best);
            changed.Remove(best);
            foreach (long pair in changed)
                if (pairCounts.GetValueOrDefault(pair) is > 0 and long updated)
                    queue.Enqueue(pair, (-updated, pair));
            if (merges.Count % 64 == 0)
                progress?.Report(new TokenizerTrainingProgress("merging", merges.Count, target));
        }
        progress?.Report(new TokenizerTrainingProgress("merging", merges.Count, target));
        return merges;

        // Adds (sign +1) or removes (-1) a word's adjacent pairs, weighted by its frequency, noting the pairs that changed.
        void AddPairs(int w, int sign)
        {
            int[] symbols = words[w];
            long weight = (long)sign * frequencies[w];
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long pair = SpanLookup.PairKey(symbols[i], symbols[i + 1]);
                long updated = pairCounts.GetValueOrDefault(pair) + weight;
                pairCounts[pair] = updated;
                if (sign > 0)
                {
                    if (!wordsWithPair.TryGetValue(pair, out var set))
                        wordsWithPair[pair] = set = [];
                    set.Add(w);
                }
                changed.Add(pair);
            }
        }
    }

    /// <summary>Replaces each non-overlapping (left, right) in a word, left to right; returns the new length.</summary>
    private static int MergeInWord(int[] symbols, int length, int left, int right, int merged)
    {
        int kept = 0;
        for (int i = 0; i < length; i++)
        {
            if (i + 1 < length && symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[kept++] = merged;
                i++;
            }
            else
                symbols[kept++] = symbols[i];
        }
        return kept;
    }
}
