namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// When an instance fetches a prefix from a peer instead of recomputing it (<c>ControlPlane:KvCache:PeerFetch</c>):
/// the data path's bandwidth and set-up latency between workers, and the least blocks worth a fetch.
/// </summary>
public sealed record KvFetchConfig
{
    public bool Enabled { get; init; } = true;

    /// <summary>Bytes per second the KV data path moves between two workers (one stream).</summary>
    public double BytesPerSecond { get; init; } = 10e9;

    /// <summary>What a fetch costs before its first byte: the call to the peer, the stream's set-up.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Fewer missing blocks than this are recomputed without asking.</summary>
    public int MinBlocks { get; init; } = 4;
}
