using System.Diagnostics;
using System.Text;
using Minnow.Tokenizers;

namespace Minnow.Benchmarks;

/// <summary>
/// Single-thread encode throughput (MB/s of UTF-8 input) of each reference tokenizer on tinyshakespeare.txt: the
/// first encode on a freshly loaded tokenizer ("first", including JIT), the first encode on a second fresh instance once
/// the code is jitted ("cold": every word a cache miss once; best of 3 fresh instances) and the best of 5 more
/// ("warm": word cache filled). Best-of rather than median because the machine is shared: interference only slows runs.
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
        foreach (var (name, path, encoding) in tokenizers)
        {
            var load = Stopwatch.StartNew();
            var tokenizer = TokenizerLoader.Load(Path.Combine(data, path), encoding);
            double loadMs = load.Elapsed.TotalMilliseconds;
            var first = Stopwatch.StartNew();
            int count = tokenizer.Encode(text).Length;
            double firstSeconds = first.Elapsed.TotalSeconds;
            double coldSeconds = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                tokenizer = TokenizerLoader.Load(Path.Combine(data, path), encoding);
                var cold = Stopwatch.StartNew();
                tokenizer.Encode(text);
                coldSeconds = Math.Min(coldSeconds, cold.Elapsed.TotalSeconds);
            }
            double warmSeconds = double.MaxValue;
            for (int i = 0; i < 5; i++)
            {
                var watch = Stopwatch.StartNew();
                tokenizer.Encode(text);
                warmSeconds = Math.Min(warmSeconds, watch.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"{name,-36} {count,8} tokens  load {loadMs,6:F0} ms  first {megabytes / firstSeconds,6:F1}  cold {megabytes / coldSeconds,6:F1} MB/s  warm {megabytes / warmSeconds,6:F1} MB/s");
        }
        return 0;
    }

    private static string FindSharedData()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Minnow.slnx")))
            dir = dir.Parent;
        return dir is null ? throw new DirectoryNotFoundException("cannot find the repository root (Minnow.slnx)") : Path.Combine(dir.FullName, "..", "shared", "data");
    }
}
