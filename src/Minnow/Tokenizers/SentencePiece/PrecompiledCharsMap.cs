using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Minnow.Tokenizers.Pipeline;

namespace Minnow.Tokenizers.SentencePiece;

/// <summary>
/// SentencePiece's compiled normalization rules (NormalizerSpec.precompiled_charsmap, e.g. nmt_nfkc): a little-endian
/// uint32 trie size, a darts-clone double-array trie over UTF-8 byte strings whose values are offsets into the blob of
/// NUL-terminated replacement strings that follows. Also usable as HF's "Precompiled" normalizer (HF tokenizers'
/// SentencePiece conversions), which applies the same table grapheme by grapheme.
/// </summary>
internal sealed class PrecompiledCharsMap : INormalizer
{
    private readonly uint[] _units;
    private readonly byte[] _normalized;

    public PrecompiledCharsMap(byte[] blob, string? path)
    {
        if (blob.Length < 4)
            throw new ModelFormatException(path, "precompiled_charsmap is shorter than its 4-byte header");
        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieSize % 4 != 0 || trieSize > blob.Length - 4)
            throw new ModelFormatException(path, $"precompiled_charsmap trie size {trieSize} does not fit in {blob.Length} bytes");
        _units = new uint[trieSize / 4];
        for (int i = 0; i < _units.Length; i++)
            _units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4 + i * 4));
        _normalized = blob[(4 + (int)trieSize)..];
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;
    private static int Value(uint unit) => (int)(unit & ((1U << 31) - 1));
    private static uint Label(uint unit) => unit & ((1U << 31) | 0xFF);
    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1U << 9)) >> 6);

    /// <summary>
    /// Darts' common-prefix search: calls back with (prefix length, value) for every key that is a prefix of <paramref name="key"/>,
    /// shortest first; stops early when the callback returns false.
    /// </summary>
    private void PrefixMatches(ReadOnlySpan<byte> key, Func<int, int, bool> found)
    {
        if (_units.Length == 0)
            return;
        uint node = Offset(_units[0]);
        for (int i = 0; i < key.Length; i++)
        {
            node ^= key[i];
            if (node >= _units.Length)
                return;
            uint unit = _units[node];
            if (Label(unit) != key[i])
                return;
            node ^= Offset(unit);
            if (HasLeaf(unit))
            {
                if (node >= _units.Length)
                    return;
                if (!found(i + 1, Value(_units[node])))
                    return;
            }
        }
    }

    private ReadOnlySpan<byte> Replacement(int offset)
    {
        if ((uint)offset >= (uint)_normalized.Length)
            return [];
        var rest = _normalized.AsSpan(offset);
        int end = rest.IndexOf((byte)0);
        return end < 0 ? rest : rest[..end];
    }

    /// <summary>SentencePiece's rule at the start of <paramref name="input"/>: the longest matching key, its byte length and replacement.</summary>
    public bool TryLongest(ReadOnlySpan<byte> input, out int length, out ReadOnlySpan<byte> replacement)
    {
        int bestLength = 0, bestValue = 0;
        PrefixMatches(input, (len, value) =>
        {
            if (len > bestLength)
                (bestLength, bestValue) = (len, value);
            return true;
        });
        length = bestLength;
        replacement = bestLength > 0 ? Replacement(bestValue) : default;
        return bestLength > 0;
    }

    /// <summary>HF's <c>transform</c>: the replacement of the first (shortest) key that prefixes <paramref name="chunk"/>.</summary>
    private string? FirstMatch(string chunk)
    {
        int value = -1;
        PrefixMatches(Encoding.UTF8.GetBytes(chunk), (_, v) =>
        {
            value = v;
            return false;
        });
        return value < 0 ? null : Encoding.UTF8.GetString(Replacement(value));
    }

    /// <summary>HF's Precompiled normalizer: a whole grapheme of under 6 UTF-8 bytes if it has a rule, else each character.</summary>
    public string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int length = StringInfo.GetNextTextElementLength(text, i);
            string grapheme = text.Substring(i, length);
            i += length;
            if (Encoding.UTF8.GetByteCount(grapheme) < 6 && FirstMatch(grapheme) is string whole)
            {
                builder.Append(whole);
                continue;
            }
            for (int j = 0; j < grapheme.Length;)
            {
                int units = char.IsHighSurrogate(grapheme[j]) && j + 1 < grapheme.Length ? 2 : 1;
                string character = grapheme.Substring(j, units);
                builder.Append(FirstMatch(character) ?? character);
                j += units;
            }
        }
        return builder.ToString();
    }
}
