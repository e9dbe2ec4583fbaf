namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// The distributed KV cache (<c>ControlPlane:KvCache</c>): how many shards each model's prefix index has, and when
/// an instance fetches a prefix from a peer. Host-memory tiers are sized per model (<c>Models:N:HostKvCacheMiB</c>).
/// </summary>
public sealed record KvCacheConfig
{
    /// <summary>Index shards per model; blocks are spread over them by hash. 0 turns the index (and prefix-aware dispatch) off.</summary>
    public int IndexShards { get; init; } = 4;

    public KvFetchConfig PeerFetch { get; init; } = new();

    public IReadOnlyList<string> Validate(string section)
    {
        var errors = new List<string>();
        if (IndexShards is < 0 or > 1024)
            errors.Add($"{section}:IndexShards must be between 0 and 1024 (got {IndexShards})");
        if (!(PeerFetch.BytesPerSecond > 0) || double.IsInfinity(PeerFetch.BytesPerSecond))
            errors.Add($"{section}:PeerFetch:BytesPerSecond must be a positive number (got {PeerFetch.BytesPerSecond})");
        if (PeerFetch.Latency < TimeSpan.Zero)
            errors.Add($"{section}:PeerFetch:Latency must not be negative (got {PeerFetch.Latency})");
        if (PeerFetch.MinBlocks < 1)
            errors.Add($"{section}:PeerFetch:MinBlocks must be at least 1 (got {PeerFetch.MinBlocks})");
        return errors;
    }
}
