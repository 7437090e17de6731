using System.Diagnostics;
using System.Text.Json;

namespace Minnow.Tests.Cli;

/// <summary>Runs the built `minnow` CLI (Minnow.Cli.dll, copied into the test output) as a user would, in a separate process.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>stdout parsed as one JSON object (fails the test when it is anything else).</summary>
        public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;
    }

    public static Result Run(params string[] args) => Run(args, null);

    public static Result Run(string[] args, string? stdin)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Minnow.Cli.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"minnow {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A fresh temporary folder for a test's files.</summary>
    public static string TempFolder() => Directory.CreateTempSubdirectory("minnow-test-").FullName;
}
