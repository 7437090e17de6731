using System.Buffers;
using System.Text;
using Minnow.Tokenizers.Text;

namespace Minnow.Tokenizers.Models;

/// <summary>
/// tiktoken's byte-pair encoding: a piece's UTF-8 bytes that are a token are that token; otherwise the bytes start as
/// single-byte tokens and the adjacent pair whose concatenation has the lowest rank merges first (the rank is the id).
/// Unlike HF's BPE there is no merge list: any two adjacent parts whose bytes form a token can merge.
/// </summary>
internal sealed class TiktokenModel : ITokenModel
{
    private readonly Dictionary<byte[], int> _ranks;
    private readonly byte[][] _bytes;
    private readonly int[] _singleByteIds = new int[256];
    private readonly WordCache _cache = new();

    public int VocabSize => _bytes.Length;

    /// <param name="ranks">Token bytes by rank; ranks must be 0..n-1 and every single byte must be a token.</param>
    /// <param name="sourcePath">The rank file, for error messages.</param>
    public TiktokenModel(Dictionary<byte[], int> ranks, string? sourcePath = null)
    {
        _ranks = ranks;
        _bytes = new byte[ranks.Count][];
        foreach (var (bytes, rank) in ranks)
        {
            if ((uint)rank >= (uint)_bytes.Length || _bytes[rank] is not null)
                throw new ModelFormatException(sourcePath, $"rank {rank} is duplicated or outside 0..{ranks.Count - 1}");
            _bytes[rank] = bytes;
        }
        var lookup = SpanLookup.ForBytes(ranks);
        for (int b = 0; b < 256; b++)
        {
            ReadOnlySpan<byte> single = [(byte)b];
            _singleByteIds[b] = lookup.TryGetValue(single, out int id) ? id : throw new ModelFormatException(sourcePath, $"byte 0x{b:X2} has no rank, so some text could not be encoded");
        }
    }

    public string? IdToToken(int id) => (uint)id < (uint)_bytes.Length ? ByteLevelAlphabet.Encode(_bytes[id]) : null;

    public int? TokenToId(string token)
    {
        var bytes = new List<byte>(token.Length);
        ByteLevelAlphabet.AppendBytes(token, bytes);
        return SpanLookup.ForBytes(_ranks).TryGetValue(bytes.ToArray(), out int id) ? id : null;
    }

    public void Tokenize(ReadOnlySpan<char> piece, bool byteLevel, List<int> ids)
    {
        if (_cache.TryAppend(piece, ids))
            return;
        int start = ids.Count;
        byte[] bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(piece.Length));
        MergeSymbol[]? rented = null;
        try
        {
            int length = Encoding.UTF8.GetBytes(piece, bytes);
            if (SpanLookup.ForBytes(_ranks).TryGetValue(bytes.AsSpan(0, length), out int whole))
                ids.Add(whole);
            else
            {
                Span<MergeSymbol> symbols = length <= 64 ? stackalloc MergeSymbol[length] : (rented = ArrayPool<MergeSymbol>.Shared.Rent(length)).AsSpan(0, length);
                for (int i = 0; i < length; i++)
                    symbols[i] = new MergeSymbol(_singleByteIds[bytes[i]], i, i + 1);
                var rule = new ConcatenationRanks(SpanLookup.ForBytes(_ranks), bytes);
                int count = BytePairMerger.Merge(symbols, ref rule);
                for (int i = 0; i < count; i++)
                    ids.Add(symbols[i].Id);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            if (rented is not null)
                ArrayPool<MergeSymbol>.Shared.Return(rented);
        }
        _cache.Add(piece, ids, start);
    }

    /// <summary>Two adjacent parts merge when their bytes together are a token; its rank is the priority.</summary>
    private readonly struct ConcatenationRanks(Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> ranks, byte[] bytes) : IMergeRule
    {
        public bool TryMerge(in MergeSymbol left, in MergeSymbol right, out long priority, out int merged)
        {
            bool found = ranks.TryGetValue(bytes.AsSpan(left.Start, right.End - left.Start), out merged);
            priority = merged;
            return found;
        }
    }
}
