using System.Buffers;
using System.Runtime.CompilerServices;

namespace Minnow.Tokenizers.Models;

/// <summary>One symbol of a word being merged: its token id (or -1) and the span of the word it covers.</summary>
internal struct MergeSymbol
{
    public int Id;
    public int Start;
    public int End;
    /// <summary>A symbol that never merges (SentencePiece's user-defined pieces).</summary>
    public bool Frozen;
    internal int Prev;
    internal int Next;

    public MergeSymbol(int id, int start, int end, bool frozen = false)
    {
        Id = id;
        Start = start;
        End = end;
        Frozen = frozen;
        Prev = Next = -1;
    }
}

/// <summary>Decides whether two adjacent symbols merge, into which id, and how urgently (lower priority merges first).</summary>
internal interface IMergeRule
{
    bool TryMerge(in MergeSymbol left, in MergeSymbol right, out long priority, out int merged);
}

/// <summary>
/// The BPE merge loop every BPE here shares (HF BPE, tiktoken, SentencePiece BPE): repeatedly merge the adjacent pair
/// with the lowest priority, the leftmost on ties, until no pair merges. A binary heap of candidate pairs over a linked
/// list of symbols makes it O(n log n) in the word length, so a 100k-character word or a megabyte of spaces costs
/// seconds at worst, never hours; a heap entry whose symbols have changed since it was pushed is skipped when popped.
/// Short words (most of them) take a linear rescan instead, which gives the same merges with less bookkeeping.
/// </summary>
internal static class BytePairMerger
{
    /// <summary>Heap pops on this thread since it started: tests bound the work of pathological inputs with it.</summary>
    [ThreadStatic] private static long t_steps;

    internal static long Steps => t_steps;

    private struct Candidate
    {
        public long Priority;
        public int Left;
        /// <summary>Where the pair's right symbol starts and ends when it was pushed: if either moved, the entry is stale.</summary>
        public int Mid;
        public int End;
        public int Merged;
    }

    /// <summary>Words up to this many symbols merge by rescanning their pairs, which beats the heap on short words.</summary>
    private const int LinearLimit = 24;

    /// <summary>
    /// Merges <paramref name="symbols"/> (in text order) in place; returns how many remain, compacted to the front.
    /// </summary>
    public static int Merge<TRule>(Span<MergeSymbol> symbols, ref TRule rule) where TRule : struct, IMergeRule
    {
        int n = symbols.Length;
        if (n < 2)
            return n;
        return n <= LinearLimit ? MergeByScan(symbols, ref rule) : MergeByHeap(symbols, ref rule);
    }

    /// <summary>
    /// The same merge order for short words, as tiktoken does it: keep each adjacent pair's priority in an array, take
    /// the lowest (leftmost on ties), merge, and recompute only the two pairs next to the merged symbol.
    /// </summary>
    private static int MergeByScan<TRule>(Span<MergeSymbol> symbols, ref TRule rule) where TRule : struct, IMergeRule
    {
        int n = symbols.Length;
        Span<long> priority = stackalloc long[LinearLimit];
        Span<int> merged = stackalloc int[LinearLimit];
        for (int i = 0; i + 1 < n; i++)
            priority[i] = PairPriority(symbols, i, i + 1, ref rule, out merged[i]);
        int count = n;
        long steps = 0;
        while (count > 1)
        {
            steps++;
            int best = -1;
            long bestPriority = long.MaxValue;
            for (int i = 0; i + 1 < count; i++)
                if (priority[i] < bestPriority)
                    (best, bestPriority) = (i, priority[i]);
            if (best < 0)
                break;
            symbols[best].Id = merged[best];
            symbols[best].End = symbols[best + 1].End;
            for (int i = best + 1; i + 1 < count; i++)
            {
                symbols[i] = symbols[i + 1];
                priority[i] = priority[i + 1];
                merged[i] = merged[i + 1];
            }
            count--;
            if (best + 1 < count)
                priority[best] = PairPriority(symbols, best, best + 1, ref rule, out merged[best]);
            else
                priority[best] = long.MaxValue;
            if (best > 0)
                priority[best - 1] = PairPriority(symbols, best - 1, best, ref rule, out merged[best - 1]);
        }
        t_steps += steps;
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long PairPriority<TRule>(Span<MergeSymbol> symbols, int left, int right, ref TRule rule, out int merged) where TRule : struct, IMergeRule
    {
        if (!symbols[left].Frozen && !symbols[right].Frozen && rule.TryMerge(symbols[left], symbols[right], out long priority, out merged))
            return priority;
        merged = -1;
        return long.MaxValue;
    }

    private static int MergeByHeap<TRule>(Span<MergeSymbol> symbols, ref TRule rule) where TRule : struct, IMergeRule
    {
        int n = symbols.Length;
        for (int i = 0; i < n; i++)
        {
            symbols[i].Prev = i - 1;
            symbols[i].Next = i + 1 < n ? i + 1 : -1;
        }
        Candidate[] heap = ArrayPool<Candidate>.Shared.Rent(n + 16);
        int count = 0;
        long steps = 0;
        try
        {
            for (int i = 0; i + 1 < n; i++)
                Consider(symbols, i, ref rule, ref heap, ref count);
            while (count > 0)
            {
                steps++;
                Candidate top = heap[0];
                Pop(heap, ref count);
                ref MergeSymbol left = ref symbols[top.Left];
                if (left.End != top.Mid || left.Next < 0)
                    continue;
                ref MergeSymbol right = ref symbols[left.Next];
                if (right.End != top.End)
                    continue;
                // Merge right into left; the right symbol leaves the list (End = -1 marks it dead).
                left.Id = top.Merged;
                left.End = right.End;
                left.Next = right.Next;
                if (right.Next >= 0)
                    symbols[right.Next].Prev = top.Left;
                right.End = -1;
                if (left.Prev >= 0)
                    Consider(symbols, left.Prev, ref rule, ref heap, ref count);
                Consider(symbols, top.Left, ref rule, ref heap, ref count);
            }
        }
        finally
        {
            ArrayPool<Candidate>.Shared.Return(heap);
            t_steps += steps;
        }
        int kept = 0;
        for (int i = 0; i >= 0; i = symbols[i].Next)
            symbols[kept++] = symbols[i];
        return kept;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Consider<TRule>(Span<MergeSymbol> symbols, int leftIndex, ref TRule rule, ref Candidate[] heap, ref int count)
        where TRule : struct, IMergeRule
    {
        ref MergeSymbol left = ref symbols[leftIndex];
        if (left.Next < 0)
            return;
        ref MergeSymbol right = ref symbols[left.Next];
        if (left.Frozen || right.Frozen || !rule.TryMerge(left, right, out long priority, out int merged))
            return;
        if (count == heap.Length)
        {
            var larger = ArrayPool<Candidate>.Shared.Rent(heap.Length * 2);
            heap.AsSpan(0, count).CopyTo(larger);
            ArrayPool<Candidate>.Shared.Return(heap);
            heap = larger;
        }
        Push(heap, ref count, new Candidate { Priority = priority, Left = leftIndex, Mid = left.End, End = right.End, Merged = merged });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Before(in Candidate a, in Candidate b) => a.Priority < b.Priority || (a.Priority == b.Priority && a.Left < b.Left);

    private static void Push(Candidate[] heap, ref int count, Candidate item)
    {
        int i = count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!Before(item, heap[parent]))
                break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = item;
    }

    private static void Pop(Candidate[] heap, ref int count)
    {
        Candidate last = heap[--count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count)
                break;
            if (child + 1 < count && Before(heap[child + 1], heap[child]))
                child++;
            if (!Before(heap[child], last))
                break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = last;
    }
}
