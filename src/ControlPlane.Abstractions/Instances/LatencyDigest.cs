namespace ControlPlane.Instances;

/// <summary>
/// Latencies as counts over fixed bounds, 10 % apart from 1 ms to about 20 minutes: what each gateway sends its models'
/// schedulers, merged across gateways by adding counts. A percentile is read within its bucket by linear interpolation
/// (within 10 % of the exact value).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.LatencyDigest")]
public sealed record LatencyDigest
{
    /// <summary>Upper bounds of the buckets, ms; the last bucket holds everything above the last bound.</summary>
    public static readonly double[] BoundsMs = [.. Enumerable.Range(0, 148).Select(i => Math.Round(Math.Pow(1.1, i), 3))];

    /// <summary>Counts per bucket: <see cref="BoundsMs"/> and one more for what lies above.</summary>
    [Id(0)] public required IReadOnlyList<long> Counts { get; init; }

    public static LatencyDigest Empty { get; } = new() { Counts = new long[BoundsMs.Length + 1] };

    public long Count => Counts.Sum();

    public static LatencyDigest Of(IEnumerable<double> milliseconds)
    {
        var counts = new long[BoundsMs.Length + 1];
        foreach (var ms in milliseconds)
        {
            if (double.IsNaN(ms))
                continue;
            var at = Array.BinarySearch(BoundsMs, ms);
            counts[at >= 0 ? at : ~at]++;
        }
        return new LatencyDigest { Counts = counts };
    }

    public LatencyDigest Merge(LatencyDigest other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Counts.Count != Counts.Count)
            throw new ArgumentException($"digests of {Counts.Count} and {other.Counts.Count} buckets do not merge", nameof(other));
        var counts = new long[Counts.Count];
        for (var i = 0; i < counts.Length; i++)
            counts[i] = Counts[i] + other.Counts[i];
        return new LatencyDigest { Counts = counts };
    }

    /// <summary>The latency below which a share <paramref name="q"/> of the samples lie, ms; null without samples.</summary>
    public double? Percentile(double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1);
        var total = Count;
        if (total == 0)
            return null;
        var rank = Math.Max(1, Math.Ceiling(q * total));
        long seen = 0;
        for (var i = 0; i < Counts.Count; i++)
        {
            if (seen + Counts[i] < rank)
            {
                seen += Counts[i];
                continue;
            }
            if (i == BoundsMs.Length)
                return BoundsMs[^1]; // above the last bound: at least that
            var lower = i == 0 ? 0 : BoundsMs[i - 1];
            return lower + (BoundsMs[i] - lower) * ((rank - seen) / Counts[i]);
        }
        return BoundsMs[^1];
    }
}

/// <summary>What one gateway saw of a model's requests over the last window: their latencies and the model's objectives.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.LatencyReport")]
public sealed record LatencyReport
{
    /// <summary>Time to first token of the requests that finished in the window.</summary>
    [Id(0)] public required LatencyDigest TimeToFirstToken { get; init; }

    /// <summary>Time per output token after the first, of those that produced two tokens or more.</summary>
    [Id(1)] public required LatencyDigest TimePerOutputToken { get; init; }

    [Id(2)] public double? SloTtftMs { get; init; }
    [Id(3)] public double? SloTpotMs { get; init; }
}
