using System.Diagnostics;
using System.Text;
using Minnow.Tokenizers;

namespace Minnow.Benchmarks;

/// <summary>
/// Single-thread encode throughput (MB/s of UTF-8 input) of each reference tokenizer on tinyshakespeare.txt:
/// "cold" is the first encode on a freshly loaded tokenizer once the code is jitted (every distinct word misses the
/// word cache once; best of 3 fresh instances), "warm" the best of 5 encodes after that (cache filled). Each is given by
/// wall clock and by the process's CPU time: the machine is shared, and when other processes hold the cores the wall
/// clock measures them, while CPU time still measures the encoder (plus a little GC and JIT work of its own).
/// Data comes from ../shared/data beside the repository, or the folder given as the first argument.
/// </summary>
public static class TokenizerThroughput
{
    public static int Run(string[] args)
    {
        string data = args.Length > 0 ? args[0] : FindSharedData();
        string text = File.ReadAllText(Path.Combine(data, "corpora/tinyshakespeare.txt"));
        double megabytes = Encoding.UTF8.GetByteCount(text) / 1e6;
        (string Name, string Path, string? Encoding)[] tokenizers =
        [
            ("llama2 SentencePiece BPE (.model)", "tokenizers/llama2/tokenizer.model", null),
            ("llama2.c tokenizer.bin", "tokenizers/llama2/tokenizer.bin", null),
            ("GPT-2 (encoder.json + vocab.bpe)", "tokenizers/gpt2/encoder.json", null),
            ("GPT-2 (r50k_base.tiktoken)", "tokenizers/gpt2/r50k_base.tiktoken", "r50k_base"),
            ("cl100k_base", "tokenizers/cl100k_base/cl100k_base.tiktoken", "cl100k_base"),
            ("o200k_base", "tokenizers/o200k_base/o200k_base.tiktoken", "o200k_base"),
            ("Llama 3 tokenizer.json", "tokenizers/llama3/tokenizer.json", null),
            ("Qwen3 tokenizer.json", "tokenizers/qwen3/tokenizer.json", null),
            ("Mistral 7B tokenizer.json", "tokenizers/mistral7b/tokenizer.json", null),
        ];
        Console.WriteLine($"tinyshakespeare.txt, {megabytes:F3} MB; MB/s by wall clock / by CPU time");
        foreach (var (name, path, encoding) in tokenizers)
        {
            var tokenizer = TokenizerLoader.Load(Path.Combine(data, path), encoding);
            int count = tokenizer.Encode(text).Length;
            var cold = (Wall: double.MaxValue, Cpu: double.MaxValue);
            for (int i = 0; i < 3; i++)
            {
                tokenizer = TokenizerLoader.Load(Path.Combine(data, path), encoding);
                cold = Best(cold, Time(() => tokenizer.Encode(text)));
            }
            var warm = (Wall: double.MaxValue, Cpu: double.MaxValue);
            for (int i = 0; i < 5; i++)
                warm = Best(warm, Time(() => tokenizer.Encode(text)));
            Console.WriteLine($"{name,-36} {count,8} tokens  cold {megabytes / cold.Wall,6:F1} / {megabytes / cold.Cpu,6:F1} MB/s  warm {megabytes / warm.Wall,6:F1} / {megabytes / warm.Cpu,6:F1} MB/s");
        }
        return 0;
    }

    private static (double Wall, double Cpu) Time(Action action)
    {
        GC.Collect();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        action();
        double wallSeconds = wall.Elapsed.TotalSeconds;
        process.Refresh();
        return (wallSeconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    private static (double, double) Best((double Wall, double Cpu) a, (double Wall, double Cpu) b) => (Math.Min(a.Wall, b.Wall), Math.Min(a.Cpu, b.Cpu));

    private static string FindSharedData()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Minnow.slnx")))
            dir = dir.Parent;
        return dir is null ? throw new DirectoryNotFoundException("cannot find the repository root (Minnow.slnx)") : Path.Combine(dir.FullName, "..", "shared", "data");
    }
}
