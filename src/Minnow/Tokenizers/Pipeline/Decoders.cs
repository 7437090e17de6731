using System.Globalization;
using System.Text;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Pipeline;

/// <summary>
/// Turns token strings back into text (HF's decoders). Each step rewrites the whole list (HF's <c>decode_chain</c>),
/// and the result is the concatenation of what the last step leaves.
/// </summary>
internal interface IDecoder
{
    void Decode(List<string> tokens);
}

/// <summary>Every token's characters back to bytes (<see cref="ByteLevelAlphabet"/>), then UTF-8 with U+FFFD for invalid sequences.</summary>
internal sealed class ByteLevelDecoder : IDecoder
{
    public void Decode(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
            ByteLevelAlphabet.AppendBytes(token, bytes);
        tokens.Clear();
        tokens.Add(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
    }
}

/// <summary>
/// Metaspace: the replacement character becomes a space, except in the first token when a prefix was prepended
/// (there it is dropped, as HF does).
/// </summary>
internal sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : IDecoder
{
    public void Decode(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
            tokens[i] = i == 0 && scheme != PrependScheme.Never ? tokens[i].Replace(replacement.ToString(), "") : tokens[i].Replace(replacement, ' ');
    }
}

/// <summary>
/// Consecutive "&lt;0xXX&gt;" tokens become the text of their bytes; bytes that are not valid UTF-8 become one U+FFFD each.
/// </summary>
internal sealed class ByteFallbackDecoder : IDecoder
{
    public static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public void Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0)
                return;
            try
            {
                result.Add(Strict.GetString(pending.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                for (int i = 0; i < pending.Count; i++)
                    result.Add("\uFFFD");
            }
            pending.Clear();
        }
        foreach (string token in tokens)
        {
            if (TryParseByte(token, out byte b))
                pending.Add(b);
            else
            {
                Flush();
                result.Add(token);
            }
        }
        Flush();
        tokens.Clear();
        tokens.AddRange(result);
    }
}

/// <summary>Joins all tokens into one.</summary>
internal sealed class FuseDecoder : IDecoder
{
    public void Decode(List<string> tokens)
    {
        string fused = string.Concat(tokens);
        tokens.Clear();
        tokens.Add(fused);
    }
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : IDecoder
{
    public void Decode(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            int from = 0, to = token.Length;
            while (from < Math.Min(start, token.Length) && token[from] == content) from++;
            for (int n = 0; n < stop && to > from && token[to - 1] == content; n++) to--;
            tokens[i] = token[from..to];
        }
    }
}

/// <summary>Replaces a pattern in each token.</summary>
internal sealed class ReplaceDecoder(INormalizer replace) : IDecoder
{
    public void Decode(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
            tokens[i] = replace.Normalize(tokens[i]);
    }
}

/// <summary>WordPiece: "##" continuations join the previous token, other tokens are preceded by a space; optional cleanup of spaces before punctuation.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : IDecoder
{
    public void Decode(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (i != 0)
                token = token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token;
            if (cleanup)
                token = token.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
                    .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
            tokens[i] = token;
        }
    }
}

/// <summary>Classic BPE's end-of-word suffix ("&lt;/w&gt;") becomes a space (nothing after the last token).</summary>
internal sealed class BpeSuffixDecoder(string suffix) : IDecoder
{
    public void Decode(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
            tokens[i] = tokens[i].Replace(suffix, i == tokens.Count - 1 ? "" : " ");
    }
}

/// <summary>Decoders applied in order.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<IDecoder> steps) : IDecoder
{
    public IReadOnlyList<IDecoder> Steps => steps;

    public void Decode(List<string> tokens)
    {
        foreach (var step in steps)
            step.Decode(tokens);
    }
}
