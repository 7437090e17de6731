namespace Minnow.Tokenizers.Models;

/// <summary>
/// Remembers the ids of recently seen pieces (words repeat: in English text most pieces are cache hits). Looked up by
/// span, so a hit allocates nothing. Each thread has its own table: encoders on several threads never wait on a lock
/// (a shared concurrent dictionary spent a third of a cold encode in its locks). Bounded by emptying a table when
/// full, which keeps memory flat on endless input at the cost of a few re-merges.
/// </summary>
internal sealed class WordCache
{
    /// <summary>Pieces longer than this are not kept: they are rare, and each would pin a large key.</summary>
    public const int MaxPieceLength = 64;

    private readonly ThreadLocal<Dictionary<string, int[]>> _maps = new(() => []);
    private readonly int _capacity;

    public WordCache(int capacity = 65536) => _capacity = capacity;

    /// <summary>
    /// True when there is nothing left to do for <paramref name="piece"/>: it is empty, or its cached ids were appended
    /// to <paramref name="ids"/>. Otherwise the caller tokenizes it and hands the result to <see cref="Add"/>.
    /// </summary>
    public bool TryAppend(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (piece.IsEmpty)
            return true;
        if (!_maps.Value!.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(piece, out int[]? cached))
            return false;
        ids.AddRange(cached);
        return true;
    }

    /// <summary>Remembers the ids the caller appended for <paramref name="piece"/>: those of <paramref name="ids"/> from <paramref name="start"/> on.</summary>
    public void Add(ReadOnlySpan<char> piece, List<int> ids, int start)
    {
        var added = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids)[start..];
        if (piece.Length > MaxPieceLength)
            return;
        var map = _maps.Value!;
        if (map.Count >= _capacity)
            map.Clear();
        map.GetAlternateLookup<ReadOnlySpan<char>>().TryAdd(piece, added.ToArray());
    }
}
