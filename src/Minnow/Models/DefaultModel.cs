namespace Minnow.Models;

/// <summary>
/// The model commands use when no --model is given: a small demonstration model Minnow trained itself on the first
/// 90% of Tiny Shakespeare (a ~4.5M-parameter Llama with a 1024-token byte-level BPE tokenizer; recipe and numbers in
/// models/README.md). It ships as a HF folder (config.json, model.safetensors in F16, tokenizer.json) copied beside
/// the <c>minnow</c> tool, in <c>models/shakespeare/</c>. It writes Shakespeare-like text and nothing else; users who
/// want a useful model pass --model with a downloaded GGUF file or HF folder.
/// </summary>
public static class DefaultModel
{
    /// <summary>What users are told when they run it.</summary>
    public const string Note = "note: using Minnow's default model, a small demonstration model trained on Tiny Shakespeare (it only writes Shakespeare-like text). " +
        "Pass --model FILE (a GGUF file or HF folder) to use a real model.";

    /// <summary>The model's name in the server's API.</summary>
    public const string Id = "minnow-default";

    /// <summary>The default model's folder: <c>models/shakespeare</c> beside the running program.</summary>
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "models", "shakespeare");

    /// <summary>Returns <see cref="Path"/>, or throws a clear error when the model is not installed there.</summary>
    public static string Locate()
    {
        string path = Path;
        if (!File.Exists(System.IO.Path.Combine(path, "config.json")) || !File.Exists(System.IO.Path.Combine(path, "model.safetensors")))
            throw new InvalidInputException($"Minnow's default model is not installed at {path} (it ships beside the minnow tool): pass --model FILE");
        return path;
    }
}
