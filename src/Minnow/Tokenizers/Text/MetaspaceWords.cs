namespace Minnow.Tokenizers.Text;

/// <summary>
/// SentencePiece-style text ("▁The▁cat") has no pre-tokenizer, so BPE would merge over the whole text at once. When no
/// vocabulary token holds '▁' right after another character, no token can span the start of a '▁'-word, and merging each
/// word on its own gives exactly the same tokens — but word by word, so repeated words hit the cache. (llama2.c's
/// tokenizer.bin stores '▁' as a space; the same holds with ' ' as the separator.)
/// </summary>
internal static class MetaspaceWords
{
    public const char Whitespace = '\u2581';

    /// <summary>Whether splitting into '▁'-words is exact for this vocabulary.</summary>
    public static bool AreIndependent(IEnumerable<string> tokens, char separator = Whitespace)
    {
        foreach (string token in tokens)
            for (int i = 1; i < token.Length; i++)
                if (token[i] == separator && token[i - 1] != separator)
                    return false;
        return true;
    }

    /// <summary>The words of <paramref name="text"/>: each starts at a '▁' that follows another character (a run of '▁' stays with the word after it).</summary>
    public static Enumerator Split(ReadOnlySpan<char> text, char separator = Whitespace) => new(text, separator);

    public ref struct Enumerator(ReadOnlySpan<char> text, char separator)
    {
        private readonly ReadOnlySpan<char> _text = text;
        private readonly char _separator = separator;
        private int _start;
        private int _end;

        public readonly ReadOnlySpan<char> Current => _text[_start.._end];

        public bool MoveNext()
        {
            _start = _end;
            if (_start >= _text.Length)
                return false;
            int i = _start + 1;
            while (i < _text.Length && !(_text[i] == _separator && _text[i - 1] != _separator))
                i++;
            _end = i;
            return true;
        }

        public readonly Enumerator GetEnumerator() => this;
    }
}
