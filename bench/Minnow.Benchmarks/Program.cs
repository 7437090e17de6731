using BenchmarkDotNet.Running;
using Minnow.Benchmarks;

// `limits`: the machine's FMA peak and read bandwidth (the baselines kernel targets are measured against).
// `gemm`: GFLOP/s of the GEMM kernel on the target shapes, as a ratio of the FMA peak measured in the same run.
// `tokenizers`: single-thread encode MB/s of each reference tokenizer on tinyshakespeare.txt.
// `serve-load`: tokens/s and time to first token of the HTTP server under 1, 4 and 16 concurrent streaming clients.
// `decode-batch`: 16 one-token forward passes against one 16-token pass (what batching concurrent decodes could gain).
// `decode [model.bin]`: decode matvecs and a model's decode steps against read-bandwidth passes of the same rounds.
// `ratios [model.bin ...]`: every figure issue 3 asks for, for 1 and 2 threads, in one run.
// `quant-matvec`: GB/s of quantized matrix-vector products per block type and kernel path, against the read bandwidth.
// `quant-decode MODEL...`: converts models to GGUF F32/Q8_0/Q4_0/Q4_K_M and measures decode against the read bandwidth.
// `train`: training tokens/s of nanoGPT's baby GPT and a Llama 15M, with per-operation time shares.
// `train-gemm`: GFLOP/s of the forward and the two backward GEMMs on the training shapes.
// Anything else goes to BenchmarkDotNet (e.g. `--filter *MatMul*`).
return args.FirstOrDefault() switch
{
    "limits" => MachineLimits.Run(args.Skip(1).ToArray()),
    "gemm" => GemmThroughput.Run(args.Skip(1).ToArray()),
    "tokenizers" => TokenizerThroughput.Run(args.Skip(1).ToArray()),
    "serve-load" => ServeLoad.Run(args.Skip(1).ToArray()),
    "decode-batch" => ServeLoad.DecodeBatch(args.Skip(1).ToArray()),
    "decode" => DecodeThroughput.Run(args.Skip(1).ToArray()),
    "ratios" => Ratios.Run(args.Skip(1).ToArray()),
    "quant-matvec" => QuantizedThroughput.Run(args.Skip(1).ToArray()),
    "quant-decode" => QuantizedDecode.Run(args.Skip(1).ToArray()),
    "train" => TrainingThroughput.Run(args.Skip(1).ToArray()),
    "train-gemm" => TrainingGemmThroughput.Run(args.Skip(1).ToArray()),
    _ => RunBenchmarkDotNet(args),
};

static int RunBenchmarkDotNet(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(MachineLimits).Assembly).Run(args);
    return 0;
}
