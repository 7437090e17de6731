using System.Text.Json;
using System.CommandLine;

namespace Minnow.Cli;

/// <summary>What every command shares: error reporting, JSON output and common options.</summary>
public static class Cli
{
    /// <summary>Runs a command body; a <see cref="MinnowException"/> (or bad file/argument) becomes one line on stderr and exit code 1.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is MinnowException or IOException or UnauthorizedAccessException or FormatException or ArgumentException or JsonException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
    }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    /// <summary>Writes one JSON object (and a newline) to stdout.</summary>
    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    public static Option<bool> JsonOption() => new("--json") { Description = "Write machine-readable JSON to stdout (progress and warnings go to stderr)." };
}
