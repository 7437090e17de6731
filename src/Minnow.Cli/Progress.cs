using Spectre.Console;
using Spectre.Console.Rendering;

namespace Minnow.Cli;

/// <summary>
/// Shows the progress of long work on stderr: a Spectre.Console bar with rate and ETA on a terminal, or a plain
/// line every few seconds when stderr is redirected (logs, CI). stdout is never touched, so --json stays clean.
/// </summary>
public static class Progress
{
    /// <summary>
    /// Runs <paramref name="work"/>, which reports through the <see cref="IProgress{T}"/> it is given;
    /// <paramref name="measure"/> turns a report into (done, total) in <paramref name="unit"/>s; <paramref name="describe"/>
    /// (optional) turns it into text shown after the label (e.g. the current loss).
    /// </summary>
    public static T Run<T, TReport>(string label, Func<IProgress<TReport>, T> work, Func<TReport, (long Done, long Total)> measure, string unit = "tok",
        Func<TReport, string>? describe = null)
    {
        if (Console.IsErrorRedirected)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            var last = TimeSpan.Zero;
            return work(new Reporter<TReport>(report =>
            {
                var (done, total) = measure(report);
                if (started.Elapsed - last < TimeSpan.FromSeconds(5) && done < total)
                    return;
                last = started.Elapsed;
                double rate = done / Math.Max(started.Elapsed.TotalSeconds, 1e-9);
                string eta = rate > 0 && total > done ? $", ETA {TimeSpan.FromSeconds((total - done) / rate):hh\\:mm\\:ss}" : "";
                string details = describe is null ? "" : $" {describe(report)}";
                Console.Error.WriteLine($"{label}{details}: {done:N0}/{total:N0} {unit} ({100.0 * done / Math.Max(total, 1):F0}%), {rate:N0} {unit}/s{eta}");
            }));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(unit), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(label, autoStart: true, maxValue: 1);
                result = work(new Reporter<TReport>(report =>
                {
                    var (done, total) = measure(report);
                    task.MaxValue = Math.Max(total, 1);
                    task.Value = done;
                    if (describe is not null)
                        task.Description = $"{label} {Markup.Escape(describe(report))}";
                }));
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Calls back synchronously on the reporting thread (System.Progress would post to the thread pool and reorder).</summary>
    private sealed class Reporter<TReport>(Action<TReport> report) : IProgress<TReport>
    {
        public void Report(TReport value) => report(value);
    }

    /// <summary>Items per second of a task.</summary>
    private sealed class RateColumn(string unit) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed ? $"{speed:N0} {unit}/s" : "", new Style(Color.Grey));
    }
}
