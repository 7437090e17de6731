using System.Globalization;
using System.Text;

namespace Minnow.Generation.ChatTemplates;

/// <summary>Python's <c>datetime.strftime</c> in the C locale (what HF's <c>strftime_now</c> global calls), including glibc's <c>%-d</c> no-padding form.</summary>
internal static class Strftime
{
    public static string Format(DateTime t, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            bool noPad = format[i + 1] == '-' && i + 2 < format.Length;
            char code = format[i + (noPad ? 2 : 1)];
            string? text = code switch
            {
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'b' or 'h' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'c' => t.ToString("ddd MMM ", c) + t.Day.ToString(c).PadLeft(2) + t.ToString(" HH:mm:ss yyyy", c),
                'C' => (t.Year / 100).ToString("00", c),
                'd' => t.ToString("dd", c),
                'D' => t.ToString("MM/dd/yy", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                'F' => t.ToString("yyyy-MM-dd", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'j' => t.DayOfYear.ToString("000", c),
                'm' => t.ToString("MM", c),
                'M' => t.ToString("mm", c),
                'n' => "\n",
                'p' => t.Hour < 12 ? "AM" : "PM",
                'R' => t.ToString("HH:mm", c),
                'S' => t.ToString("ss", c),
                't' => "\t",
                'T' or 'X' => t.ToString("HH:mm:ss", c),
                'u' => (t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek).ToString(c),
                'w' => ((int)t.DayOfWeek).ToString(c),
                'x' => t.ToString("MM/dd/yy", c),
                'y' => t.ToString("yy", c),
                'Y' => t.Year.ToString(c),
                'z' or 'Z' => "", // a naive datetime has no zone
                '%' => "%",
                _ => null,
            };
            if (text is null)
            {
                sb.Append('%');
                continue;
            }
            if (noPad && text.Length > 1 && char.IsAsciiDigit(text[0]))
                text = text.TrimStart('0') is { Length: > 0 } trimmed ? trimmed : "0";
            sb.Append(text);
            i += noPad ? 2 : 1;
        }
        return sb.ToString();
    }
}
