namespace Minnow.Tokenizers;

/// <summary>
/// Turns text into token ids and back. Every tokenizer format Minnow reads (llama2.c tokenizer.bin,
/// SentencePiece .model, GPT-2 BPE, tiktoken, HF tokenizer.json) implements this one interface.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of ids (including special and added tokens); every id is in [0, VocabSize).</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, if the tokenizer has one.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, if the tokenizer has one.</summary>
    int? EosId { get; }

    /// <summary>
    /// Encodes text. <paramref name="addSpecial"/> adds the special tokens the model expects around a sequence
    /// (BOS for Llama-style tokenizers; the post-processor's template for HF tokenizer.json).
    /// <paramref name="parseSpecial"/> overrides whether special-token text in the input (e.g. "&lt;|im_start|&gt;")
    /// becomes its special id; null means the format's reference default.
    /// Text is taken as Unicode scalar values: a lone surrogate (which has no UTF-8 form) is encoded as U+FFFD, as
    /// <see cref="System.Text.Encoding.UTF8"/> does, so for byte-level tokenizers Decode(Encode(x)) is x with each lone
    /// surrogate replaced by U+FFFD. (Text read from a file as UTF-8 already has invalid bytes replaced by U+FFFD.)
    /// </summary>
    int[] Encode(string text, bool addSpecial = false, bool? parseSpecial = null);

    /// <summary>
    /// Decodes ids to text, as the reference decoder does (special tokens included as their text unless <paramref name="skipSpecial"/>).
    /// Token bytes that do not form valid UTF-8 (a sequence cut short) become U+FFFD, as the reference does.
    /// </summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>The token's string as stored in the vocabulary (e.g. "▁the", "Ġthe", "&lt;0x0A&gt;").</summary>
    string IdToToken(int id);

    /// <summary>The id of a vocabulary string, or null when it is not in the vocabulary.</summary>
    int? TokenToId(string token);

    /// <summary>True for control/special tokens (BOS, EOS, chat markers…).</summary>
    bool IsSpecial(int id);

    /// <summary>A decoder that receives ids one at a time and emits only complete UTF-8 text.</summary>
    IncrementalDecoder CreateIncrementalDecoder(bool skipSpecial = false) => new IncrementalDecoder(this, skipSpecial);
}

/// <summary>
/// Streams text from ids one at a time. It decodes a short window of recent ids and emits only the part that
/// is stable and holds no incomplete UTF-8 sequence (U+FFFD at the end means "wait for more bytes"), so a
/// multi-byte character split over several byte tokens is emitted once, whole. Works for any <see cref="ITokenizer"/>
/// because it only uses <see cref="ITokenizer.Decode"/>; the window keeps the cost per token constant.
/// </summary>
public class IncrementalDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly List<int> _ids = [];
    private int _prefixOffset;
    private int _readOffset;

    public IncrementalDecoder(ITokenizer tokenizer, bool skipSpecial = false)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    /// <summary>Adds one id; returns the newly completed text (possibly empty).</summary>
    public virtual string Push(int id)
    {
        _ids.Add(id);
        var ids = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids);
        string prefix = _tokenizer.Decode(ids[_prefixOffset.._readOffset], _skipSpecial);
        string full = _tokenizer.Decode(ids[_prefixOffset..], _skipSpecial);
        if (full.Length > prefix.Length && !full.EndsWith('\uFFFD') && full.StartsWith(prefix, StringComparison.Ordinal))
        {
            string delta = full[prefix.Length..];
            _prefixOffset = _readOffset;
            _readOffset = _ids.Count;
            return delta;
        }
        return "";
    }

    /// <summary>Emits whatever is still held back (an incomplete UTF-8 tail becomes U+FFFD, as Decode would).</summary>
    public virtual string Flush()
    {
        var ids = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids);
        string prefix = _tokenizer.Decode(ids[_prefixOffset.._readOffset], _skipSpecial);
        string full = _tokenizer.Decode(ids[_prefixOffset..], _skipSpecial);
        _prefixOffset = _readOffset = _ids.Count;
        return full.Length > prefix.Length && full.StartsWith(prefix, StringComparison.Ordinal) ? full[prefix.Length..] : "";
    }
}
