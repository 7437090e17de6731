namespace Minnow;

/// <summary>Base of every error Minnow reports about bad input: the message is one line a user can act on.</summary>
public class MinnowException : Exception
{
    public MinnowException(string message) : base(message) { }
    public MinnowException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model, tokenizer or data file is malformed: names the file and, where known, the offset or field.</summary>
public class ModelFormatException : MinnowException
{
    public string? FilePath { get; }
    public ModelFormatException(string? filePath, string message)
        : base(filePath is null ? message : $"{filePath}: {message}") => FilePath = filePath;
}

/// <summary>An argument is out of range or malformed (a bad option value, an id outside the vocabulary…).</summary>
public class InvalidInputException : MinnowException
{
    public InvalidInputException(string message) : base(message) { }
}

/// <summary>The prompt plus the requested tokens do not fit in the model's context.</summary>
public class ContextLengthException : MinnowException
{
    public int Requested { get; }
    public int Limit { get; }
    public ContextLengthException(int requested, int limit)
        : base($"the input needs {requested} positions but the model's context holds {limit}")
    {
        Requested = requested;
        Limit = limit;
    }
}
