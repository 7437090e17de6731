using System.Text;

namespace Minnow.Training;

/// <summary>Files written whole or not at all: to a temporary file beside the target, flushed to disk, then renamed over it.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public static void WriteAllText(string path, string text) => Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));
}
