using Minnow.Tokenizers.SentencePiece;

namespace Minnow.Tokenizers;

/// <summary>
/// Opens a tokenizer from a file or a model folder, recognising the format from the file's name and contents.
/// Every format Minnow reads is registered here, so the CLI and the model loaders have one entry point.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>File names looked for, in order, when <c>Load</c> is given a folder.</summary>
    private static readonly string[] FolderCandidates = ["tokenizer.json", "tokenizer.model", "tokenizer.bin", "encoder.json"];

    /// <summary>
    /// Loads the tokenizer at <paramref name="path"/>: an HF <c>tokenizer.json</c>, a SentencePiece <c>.model</c>, a
    /// llama2.c <c>tokenizer.bin</c>, GPT-2's <c>encoder.json</c> (with <c>vocab.bpe</c> beside it), a GGUF model's
    /// metadata, a <c>.tiktoken</c> rank file (with <paramref name="encoding"/>, or an encoding named by the file), or a folder holding one of these.
    /// </summary>
    public static ITokenizer Load(string path, string? encoding = null)
    {
        if (Directory.Exists(path))
        {
            foreach (string name in FolderCandidates)
            {
                string candidate = Path.Combine(path, name);
                if (File.Exists(candidate))
                    return Load(candidate, encoding);
            }
            throw new ModelFormatException(path, $"no tokenizer found in this folder (looked for {string.Join(", ", FolderCandidates)})");
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        if (encoding is not null && !path.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase))
            throw new InvalidInputException($"--encoding applies to .tiktoken rank files, not to {Path.GetFileName(path)}");
        string fileName = Path.GetFileName(path).ToLowerInvariant();
        return Path.GetExtension(fileName) switch
        {
            ".bin" => Llama2cTokenizer.Load(path),
            ".model" => SentencePieceTokenizer.Load(path),
            ".tiktoken" => Tiktoken.Load(path, encoding ?? Tiktoken.GuessEncoding(path)
                ?? throw new InvalidInputException($"{path}: a .tiktoken file needs an encoding name ({string.Join(", ", Tiktoken.EncodingNames)})")),
            ".json" when fileName == "encoder.json" => Gpt2Encoder.Load(path),
            ".json" => TokenizerJson.Load(path),
            ".gguf" => FromGguf(path),
            _ => throw new ModelFormatException(path,
                "unrecognised tokenizer format (expected tokenizer.json, a SentencePiece .model, tokenizer.bin, encoder.json, a .gguf model or a .tiktoken file)"),
        };
    }

    /// <summary>The tokenizer stored in a GGUF model's metadata.</summary>
    private static ITokenizer FromGguf(string path)
    {
        using var file = Formats.Gguf.GgufFile.Open(path);
        return Formats.Gguf.GgufTokenizer.Read(file) ?? throw new ModelFormatException(path, "this GGUF file carries no tokenizer");
    }

    /// <summary>
    /// Checks a tokenizer fits a model: every id it can produce must be a row of the model's embedding; with
    /// <paramref name="exact"/> (formats that store no vocabulary padding, like llama2.c) the sizes must be equal.
    /// </summary>
    public static void CheckFits(ITokenizer tokenizer, int modelVocabSize, string? tokenizerPath, bool exact = false)
    {
        if (tokenizer.VocabSize > modelVocabSize || (exact && tokenizer.VocabSize != modelVocabSize))
            throw new ModelFormatException(tokenizerPath,
                $"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary holds {modelVocabSize}: they do not belong together");
    }
}
