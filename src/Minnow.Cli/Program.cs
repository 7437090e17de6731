using System.CommandLine;
using Minnow.Cli.Commands;

namespace Minnow.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Minnow: small language models in pure .NET — generate, score, train, compress and serve.");
        foreach (var command in Commands())
            root.Subcommands.Add(command);
        return root.Parse(args).Invoke();
    }

    /// <summary>Every top-level command; each lives in its own file under Commands/.</summary>
    private static IEnumerable<Command> Commands() =>
    [
        ChatTemplateCommand.Create(),
    ];
}
