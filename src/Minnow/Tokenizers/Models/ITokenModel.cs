namespace Minnow.Tokenizers.Models;

/// <summary>
/// The model step of a tokenizer pipeline (HF's <c>Model</c>): turns one pre-tokenized piece into ids, and maps between
/// ids and the vocabulary's token strings.
/// </summary>
internal interface ITokenModel
{
    /// <summary>Number of ids the model itself defines (added tokens may extend the range).</summary>
    int VocabSize { get; }

    /// <summary>
    /// Appends the ids of one piece. With <paramref name="byteLevel"/> the piece is raw text whose UTF-8 bytes the
    /// model reads in GPT-2's byte alphabet (the ByteLevel pre-tokenizer's mapping, done here without a copy).
    /// </summary>
    void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids);

    string? IdToToken(int id);

    int? TokenToId(string token);
}
