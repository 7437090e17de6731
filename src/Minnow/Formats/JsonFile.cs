using System.Text.Json;

namespace Minnow.Formats;

/// <summary>Reads the JSON files models come with, turning every kind of malformed content into a <see cref="ModelFormatException"/> that names the file.</summary>
public static class JsonFile
{
    /// <summary>Parses <paramref name="path"/>, which must hold a JSON object in valid UTF-8.</summary>
    public static JsonElement ReadObject(string path) => ParseObject(File.ReadAllBytes(path), path);

    /// <summary>Parses <paramref name="utf8"/> (from <paramref name="path"/>, for messages) as a JSON object.</summary>
    public static JsonElement ParseObject(ReadOnlySpan<byte> utf8, string path)
    {
        // JsonDocument checks UTF-8 only when a string is read; check it up front so later reads cannot throw.
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            throw new ModelFormatException(path, "is not valid UTF-8");
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(utf8.ToArray()).RootElement;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"is not valid JSON: {e.Message}");
        }
        return root.ValueKind == JsonValueKind.Object ? root : throw new ModelFormatException(path, "is not a JSON object");
    }
}
