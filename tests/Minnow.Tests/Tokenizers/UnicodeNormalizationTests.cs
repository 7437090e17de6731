using System.Text;
using System.Text.Json;
using Minnow.Tokenizers.Text;

namespace Minnow.Tests.Tokenizers;

/// <summary>The managed NFC/NFD/NFKC/NFKD against Python's unicodedata on strings full of marks, Hangul and compatibility characters.</summary>
public class UnicodeNormalizationTests
{
    [Fact]
    public void MatchesPythonsUnicodedata()
    {
        var forms = new[] { ("NFC", NormalizationForm.FormC), ("NFD", NormalizationForm.FormD), ("NFKC", NormalizationForm.FormKC), ("NFKD", NormalizationForm.FormKD) };
        int count = 0;
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "Fixtures", "unicode_normalization.jsonl")))
        {
            var c = JsonDocument.Parse(line).RootElement;
            string text = c.GetProperty("text").GetString()!;
            foreach (var (name, form) in forms)
                Assert.True(c.GetProperty(name).GetString() == UnicodeNormalization.Normalize(text, form), $"{name} of {JsonSerializer.Serialize(text)}");
            count++;
        }
        Assert.Equal(400, count);
    }

    [Fact]
    public void LeavesNormalizedTextAlone()
    {
        string text = "Already NFC: café, 日本語, 한국어.";
        Assert.Same(text, UnicodeNormalization.Normalize(text, NormalizationForm.FormC));
        Assert.Equal("e\u0301", UnicodeNormalization.Normalize("é", NormalizationForm.FormD));
        Assert.Equal("fi", UnicodeNormalization.Normalize("ﬁ", NormalizationForm.FormKC));
    }
}
