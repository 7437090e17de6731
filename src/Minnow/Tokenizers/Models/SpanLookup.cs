using System.Runtime.InteropServices;

namespace Minnow.Tokenizers.Models;

/// <summary>Compares byte arrays by content and lets a dictionary keyed by them be searched with a span, without copying.</summary>
internal sealed class ByteSequenceComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteSequenceComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);
    public int GetHashCode(byte[] bytes) => GetHashCode((ReadOnlySpan<byte>)bytes);
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    public int GetHashCode(ReadOnlySpan<byte> bytes)
    {
        // FNV-1a over the bytes: tokens are short, and this beats the general-purpose hashers on 1-16 bytes.
        uint hash = 2166136261;
        foreach (byte b in bytes)
            hash = (hash ^ b) * 16777619;
        return (int)hash;
    }
}

/// <summary>
/// Hashes packed id pairs (<see cref="SpanLookup.PairKey"/>) well: <c>long.GetHashCode</c> xors the halves, so every
/// pair (a, b) collides with (b, a) and with all pairs of equal xor, which made merge lookups crawl.
/// </summary>
internal sealed class PairKeyComparer : IEqualityComparer<long>
{
    public static readonly PairKeyComparer Instance = new();
    public bool Equals(long x, long y) => x == y;
    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
}

/// <summary>Helpers to look a span up in dictionaries keyed by strings or byte arrays.</summary>
internal static class SpanLookup
{
    public static Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> ForBytes(Dictionary<byte[], int> map) =>
        map.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>Packs an ordered id pair into one dictionary key.</summary>
    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>A read-only view of a list's items.</summary>
    public static ReadOnlySpan<T> AsSpan<T>(List<T> list) => CollectionsMarshal.AsSpan(list);
}
