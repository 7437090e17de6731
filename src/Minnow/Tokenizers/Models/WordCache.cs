using System.Collections.Concurrent;

namespace Minnow.Tokenizers.Models;

/// <summary>
/// Remembers the ids of recently seen pieces (words repeat: in English text most pieces are cache hits). Looked up by
/// span, so a hit allocates nothing; safe for concurrent encoders; bounded by emptying it when full, which keeps memory
/// flat on endless input at the cost of a few re-merges.
/// </summary>
internal sealed class WordCache
{
    /// <summary>Pieces longer than this are not kept: they are rare, and each would pin a large key.</summary>
    public const int MaxPieceLength = 64;

    private readonly ConcurrentDictionary<string, int[]> _map = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;
    /// <summary>Approximate entry count (ConcurrentDictionary.Count takes every lock, too slow to ask per add).</summary>
    private int _count;

    public WordCache(int capacity = 65536)
    {
        _capacity = capacity;
        _lookup = _map.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public bool TryGet(ReadOnlySpan<char> piece, out int[] ids) => _lookup.TryGetValue(piece, out ids!);

    public void Add(ReadOnlySpan<char> piece, ReadOnlySpan<int> ids)
    {
        if (piece.Length > MaxPieceLength)
            return;
        if (_count >= _capacity)
        {
            _map.Clear();
            _count = 0;
        }
        if (_lookup.TryAdd(piece, ids.ToArray()))
            Interlocked.Increment(ref _count);
    }
}
