using System.Text;

namespace Minnow.Tokenizers.Text;

/// <summary>
/// GPT-2's reversible map from bytes to printable characters (<c>bytes_to_unicode</c> in OpenAI's encoder.py, used by
/// every byte-level BPE): the printable Latin-1 bytes stand for themselves, the other 68 bytes (controls, space, 0x7F-0xA0,
/// 0xAD) become U+0100 onwards in byte order, so a space is 'Ġ' and a newline 'Ċ'. Vocabularies store tokens in this alphabet.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character standing for each byte.</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>The byte each alphabet character stands for, or -1 (indexed by char, up to U+0143).</summary>
    private static readonly short[] CharToByte = BuildInverse();

    private static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildInverse()
    {
        var inverse = new short[0x144];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++)
            inverse[ByteToChar[b]] = (short)b;
        return inverse;
    }

    /// <summary>The byte <paramref name="c"/> stands for, or -1 when it is not in the alphabet.</summary>
    public static int ToByte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>The alphabet form of UTF-8 bytes (e.g. " the" becomes "Ġthe").</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, data) =>
        {
            for (int i = 0; i < data.Length; i++)
                chars[i] = ByteToChar[data[i]];
        });
    }

    /// <summary>The alphabet form of a string's UTF-8 bytes.</summary>
    public static string Encode(string text) => Encode(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Appends the bytes a token stands for. A token holding a character outside the alphabet (an added token such as
    /// "&lt;|im_start|&gt;" written in plain text) contributes its own UTF-8 bytes, as HF's ByteLevel decoder does.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            if (ToByte(c) < 0)
            {
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }
        foreach (char c in token)
            output.Add((byte)ToByte(c));
    }
}
