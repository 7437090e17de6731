using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Minnow.Tokenizers.Text;

/// <summary>
/// Unicode normalization (UAX #15: NFC, NFD, NFKC, NFKD) in managed code. .NET's <see cref="string.Normalize()"/> asks ICU,
/// which Minnow's globalization-invariant mode does not load (there it returns the text unchanged), and ICU's Unicode
/// version would vary between machines. The tables (canonical combining classes and one-level decompositions) are an
/// embedded resource made by <c>tools/gen_unicode_normalization.py</c>; Hangul syllables are computed.
/// </summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28, SCount = 11172;
    private const int NCount = VCount * TCount;

    private static readonly Lazy<Tables> Data = new(Load);

    /// <summary>Normalizes to <paramref name="form"/>; text already in that form is returned as is, without copying.</summary>
    public static string Normalize(string text, NormalizationForm form)
    {
        var tables = Data.Value;
        bool compat = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        var stable = tables.Stable[(compat ? 2 : 0) + (compose ? 1 : 0)];
        int i = 0;
        while (i < text.Length && (text[i] < 0x80 || (!char.IsSurrogate(text[i]) && stable.Contains(text[i]))))
            i++;
        if (i == text.Length)
            return text;

        // Decompose (fully, recursively), then put each run of combining marks in canonical order.
        var points = new List<int>(text.Length + 8);
        for (int j = 0; j < text.Length;)
        {
            int cp = CharClass.CodePointAt(text, j, out int units);
            if (units == 1 && char.IsSurrogate(text[j]))
                cp = text[j];
            j += units;
            Decompose(cp, compat, tables, points);
        }
        for (int j = 1; j < points.Count; j++)
        {
            int cls = tables.Class(points[j]);
            if (cls == 0)
                continue;
            for (int k = j; k > 0 && tables.Class(points[k - 1]) > cls; k--)
                (points[k], points[k - 1]) = (points[k - 1], points[k]);
        }
        if (compose)
            Compose(points, tables);

        var builder = new StringBuilder(points.Count);
        foreach (int cp in points)
            CharClass.Append(builder, cp);
        return builder.ToString();
    }

    private static void Decompose(int cp, bool compat, Tables tables, List<int> output)
    {
        int s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
            return;
        }
        if ((compat ? tables.Compatibility : tables.Canonical).TryGetValue(cp, out int[]? mapping))
            output.AddRange(mapping);
        else
            output.Add(cp);
    }

    /// <summary>The canonical composition algorithm: each character joins the last starter unless a character between them blocks it.</summary>
    private static void Compose(List<int> points, Tables tables)
    {
        int starter = -1, lastClass = -1, kept = 0;
        for (int i = 0; i < points.Count; i++)
        {
            int cp = points[i];
            int cls = tables.Class(cp);
            bool blocked = lastClass != -1 && lastClass >= cls;
            if (starter >= 0 && !blocked && TryCompose(points[starter], cp, tables, out int composite))
            {
                points[starter] = composite;
                continue;
            }
            if (cls == 0)
            {
                starter = kept;
                lastClass = -1;
            }
            else
                lastClass = cls;
            points[kept++] = cp;
        }
        points.RemoveRange(kept, points.Count - kept);
    }

    private static bool TryCompose(int first, int second, Tables tables, out int composite)
    {
        int l = first - LBase, v = second - VBase;
        if (l is >= 0 and < LCount && v is >= 0 and < VCount)
        {
            composite = SBase + (l * VCount + v) * TCount;
            return true;
        }
        int s = first - SBase, t = second - TBase;
        if (s is >= 0 and < SCount && s % TCount == 0 && t is > 0 and < TCount)
        {
            composite = first + t;
            return true;
        }
        return tables.Compositions.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> Classes = [];
        public readonly Dictionary<int, int[]> Canonical = [];
        public readonly Dictionary<int, int[]> Compatibility = [];
        public readonly Dictionary<long, int> Compositions = new(Models.PairKeyComparer.Instance);
        /// <summary>BMP characters each form leaves alone whatever surrounds them: [NFD, NFC, NFKD, NFKC].</summary>
        public readonly StableSet[] Stable = [new(), new(), new(), new()];

        public int Class(int cp) => cp < 0x300 ? 0 : Classes.TryGetValue(cp, out byte c) ? c : 0;
    }

    /// <summary>A bitmap over the Basic Multilingual Plane.</summary>
    private sealed class StableSet
    {
        private readonly ulong[] _bits = new ulong[1024];
        public void Add(int c) => _bits[c >> 6] |= 1UL << (c & 63);
        public bool Contains(char c) => (_bits[c >> 6] & (1UL << (c & 63))) != 0;
    }

    private static Tables Load()
    {
        using var resource = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream("Minnow.Tokenizers.Text.UnicodeNormalization.bin")
            ?? throw new InvalidOperationException("the Unicode normalization tables are missing from the assembly");
        using var inflated = new MemoryStream();
        using (var deflate = new DeflateStream(resource, CompressionMode.Decompress))
            deflate.CopyTo(inflated);
        var data = inflated.GetBuffer().AsSpan(0, (int)inflated.Length);
        var tables = new Tables();
        int offset = 5;
        // Skip the Unicode version string (it documents the file; the code works with any version).
        offset += 1 + data[offset];
        int classCount = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
        offset += 4;
        for (int i = 0; i < classCount; i++, offset += 5)
            tables.Classes[BinaryPrimitives.ReadInt32LittleEndian(data[offset..])] = data[offset + 4];
        var raw = new Dictionary<int, (bool Compat, bool Excluded, int[] Mapping)>();
        int decompositionCount = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
        offset += 4;
        for (int i = 0; i < decompositionCount; i++)
        {
            int cp = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
            byte flags = data[offset + 4];
            var mapping = new int[data[offset + 5]];
            offset += 6;
            for (int k = 0; k < mapping.Length; k++, offset += 4)
                mapping[k] = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
            raw[cp] = ((flags & 1) != 0, (flags & 2) != 0, mapping);
        }

        foreach (var (cp, (compat, excluded, mapping)) in raw)
        {
            if (!compat)
            {
                tables.Canonical[cp] = Expand(cp, raw, compat: false);
                if (!excluded && mapping.Length == 2)
                    tables.Compositions[((long)mapping[0] << 21) | (uint)mapping[1]] = cp;
            }
            tables.Compatibility[cp] = Expand(cp, raw, compat: true);
        }

        // A BMP character is stable under a form when it has class 0, the form does not change it, and (for the
        // composing forms) nothing can compose onto it from the left as the second of a pair.
        var seconds = new HashSet<int>(tables.Compositions.Keys.Select(k => (int)(k & 0x1FFFFF)));
        for (int c = 0x80; c < 0x10000; c++)
        {
            if (c is >= 0xD800 and < 0xE000 || tables.Class(c) != 0)
                continue;
            // Hangul: syllables decompose (unstable for NFD/NFKD) but are composed already; vowel and trailing jamo
            // compose onto what precedes them.
            if (c is >= SBase and < SBase + SCount)
            {
                tables.Stable[1].Add(c);
                tables.Stable[3].Add(c);
                continue;
            }
            if (c is >= VBase and < VBase + VCount or > TBase and < TBase + TCount)
            {
                tables.Stable[0].Add(c);
                tables.Stable[2].Add(c);
                continue;
            }
            bool canonical = raw.TryGetValue(c, out var entry) && !entry.Compat;
            bool any = raw.ContainsKey(c);
            bool composes = seconds.Contains(c);
            // NFKC leaves a canonically decomposable character alone only if no compatibility mapping hides in its decomposition.
            bool canonicalOnly = canonical && tables.Compatibility[c].AsSpan().SequenceEqual(tables.Canonical[c]);
            if (!canonical) tables.Stable[0].Add(c);
            if (!(canonical && entry.Excluded) && !composes) tables.Stable[1].Add(c);
            if (!any) tables.Stable[2].Add(c);
            if ((!any || (canonicalOnly && !entry.Excluded)) && !composes) tables.Stable[3].Add(c);
        }
        return tables;
    }

    private static int[] Expand(int cp, Dictionary<int, (bool Compat, bool Excluded, int[] Mapping)> raw, bool compat)
    {
        var result = new List<int>();
        void Add(int c)
        {
            if (raw.TryGetValue(c, out var entry) && (compat || !entry.Compat))
                foreach (int m in entry.Mapping)
                    Add(m);
            else
                result.Add(c);
        }
        foreach (int m in raw[cp].Mapping)
            Add(m);
        return result.ToArray();
    }
}
