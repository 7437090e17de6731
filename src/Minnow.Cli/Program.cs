using System.CommandLine;
using Minnow.Cli.Commands;

namespace Minnow.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Minnow: small language models in pure .NET — generate, score, train, compress and serve.");
        foreach (var command in Commands())
            root.Subcommands.Add(command);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line per problem and a pointer to the help, instead of the whole help text.
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"error: {error.Message}");
            string name = parse.CommandResult.Command == root ? "minnow" : $"minnow {parse.CommandResult.Command.Name}";
            Console.Error.WriteLine($"Run '{name} --help' for usage.");
            return 2;
        }
        // `minnow chat` handles Ctrl-C itself: it stops the current reply, not the program.
        var invocation = new InvocationConfiguration();
        // `minnow train` too: the first Ctrl-C or SIGTERM ends the run after the current step with a checkpoint.
        if (parse.CommandResult.Command.Name is ChatCommand.Name or TrainCommand.Name)
            invocation.ProcessTerminationTimeout = null;
        return await parse.InvokeAsync(invocation);
    }

    /// <summary>Every top-level command; each lives in its own file under Commands/.</summary>
    private static IEnumerable<Command> Commands() =>
    [
        GenerateCommand.Create(),
        ScoreCommand.Create(),
        InitCommand.Create(),
        InfoCommand.Create(),
        ChatTemplateCommand.Create(),
        EvalCommand.Create(),
        ConvertCommand.Create(),
        TokenizeCommand.Create(),
        TokenizerCommand.Create(),
        DataCommand.Create(),
        TrainCommand.Create(),
        ServeCommand.Create(),
        ChatCommand.Create(),
        BenchCommand.Create(),
    ];
}
