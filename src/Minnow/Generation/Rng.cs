namespace Minnow.Generation;

/// <summary>
/// xorshift64* (as llama2.c's sampler uses): tiny, fast and identical on every platform and .NET version,
/// which System.Random does not promise. The seed is mixed with splitmix64 so that 0 is a valid seed.
/// </summary>
public sealed class Rng
{
    private ulong _state;

    public Rng(ulong seed)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        _state = (z ^ (z >> 31)) | 1;
    }

    /// <summary>The generator's whole state: save it (a training checkpoint does) and restore it with <see cref="FromState"/>.</summary>
    public ulong State => _state;

    /// <summary>A generator that continues exactly where the one whose <see cref="State"/> was saved left off.</summary>
    public static Rng FromState(ulong state) => state != 0
        ? new(0) { _state = state }
        : throw new ArgumentOutOfRangeException(nameof(state), "xorshift's state is never 0");

    public uint NextUInt32()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return (uint)((_state * 0x2545F4914F6CDD1DUL) >> 32);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextFloat() => (NextUInt32() >> 8) / 16777216f;

    /// <summary>Standard normal (Box–Muller), for weight initialisation.</summary>
    public float NextGaussian()
    {
        double u1 = 1.0 - (NextUInt32() + 0.5) / 4294967296.0;
        double u2 = (NextUInt32() + 0.5) / 4294967296.0;
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
