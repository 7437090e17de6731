namespace Minnow.Tokenizers;

/// <summary>
/// Opens a tokenizer from a file or a model folder, recognising the format from the file's name and contents.
/// Every format Minnow reads is registered here, so the CLI and the model loaders have one entry point.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>File names looked for, in order, when <c>Load</c> is given a folder.</summary>
    private static readonly string[] FolderCandidates = ["tokenizer.bin"];

    /// <summary>Loads the tokenizer at <paramref name="path"/> (a tokenizer file, or a folder holding one).</summary>
    public static ITokenizer Load(string path)
    {
        if (Directory.Exists(path))
        {
            foreach (string name in FolderCandidates)
            {
                string candidate = Path.Combine(path, name);
                if (File.Exists(candidate))
                    return Load(candidate);
            }
            throw new ModelFormatException(path, $"no tokenizer found in this folder (looked for {string.Join(", ", FolderCandidates)})");
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".bin" => Llama2cTokenizer.Load(path),
            _ => throw new ModelFormatException(path, "unrecognised tokenizer format (expected llama2.c tokenizer.bin)"),
        };
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
