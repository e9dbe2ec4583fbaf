namespace ControlPlane.Engine.Core.Requests;

/// <summary>
/// A request's own random stream, counter-based: draw n is a pure function of the seed and n (SplitMix64),
/// so the stream's whole state is two numbers that travel with the request, and a seeded request sampled on
/// one engine and continued on another draws exactly what it would have drawn in one place.
/// </summary>
public sealed class RequestRandom(ulong seed, long draws = 0)
{
    public ulong Seed { get; } = seed;
    public long Draws { get; private set; } = draws;

    /// <summary>A uniform draw in [0, 1).</summary>
    public double NextDouble()
    {
        var z = Seed + (ulong)++Draws * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>The request's seed when it has one (reproducible), else one drawn from <paramref name="shared"/>.</summary>
    public static ulong SeedFor(long? requestSeed, Random shared) =>
        requestSeed is { } seed ? unchecked((ulong)seed) : unchecked((ulong)shared.NextInt64());
}
