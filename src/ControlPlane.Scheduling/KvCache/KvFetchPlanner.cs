using ControlPlane.Instances;

namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// Decides whether the instance a request was sent to should fetch the rest of its prefix from the peer that holds the
/// longest one (Mooncake's transfer-or-recompute choice): when the bytes of the missing blocks, at the data path's
/// bandwidth plus its latency, arrive sooner than the instance would compute their tokens at its measured prefill rate.
/// Pure; the dispatcher grain and the simulator both ask it.
/// </summary>
/// <paramref name="bytesPerBlock"/>: the block size in bytes where an instance's load does not say it.
public sealed class KvFetchPlanner(KvFetchConfig config, long bytesPerBlock)
{
    public KvFetchConfig Config { get; } = config;
    public long BytesPerBlock { get; } = bytesPerBlock;

    /// <summary>
    /// The fetch for a request placed on <paramref name="chosen"/>, or null: the prefix blocks <c>[First, First + Count)</c>
    /// from <c>Source</c>, where the chosen instance holds the first <c>First</c> already.
    /// </summary>
    public PrefixFetch? Plan(PrefixMatch match, InstanceLoad chosen, IReadOnlyList<InstanceLoad> loads)
    {
        if (!Config.Enabled || match.LongestHolder is not { } source || source == chosen.InstanceId)
            return null;
        var held = match.For(chosen.InstanceId).Blocks;
        var missing = Math.Min(match.Longest, match.PromptBlocks) - held;
        if (missing < Config.MinBlocks || !IsReady(source, loads))
            return null;
        var fetch = FetchTime(missing, chosen.KvBytesPerBlock > 0 ? chosen.KvBytesPerBlock : BytesPerBlock);
        var recompute = RecomputeTime(missing, chosen);
        return fetch < recompute ? new PrefixFetch(source, held, missing, fetch, recompute) : null;
    }

    public TimeSpan FetchTime(int blocks) => FetchTime(blocks, BytesPerBlock);

    private TimeSpan FetchTime(int blocks, long bytesPerBlock) => Config.Latency + TimeSpan.FromSeconds(blocks * (double)bytesPerBlock / Config.BytesPerSecond);

    /// <summary>The time to compute the blocks' tokens at the instance's measured prefill rate; unbounded before it has one.</summary>
    public static TimeSpan RecomputeTime(int blocks, InstanceLoad instance) => instance.PrefillTokensPerSecond > 0
        ? TimeSpan.FromSeconds((double)blocks * instance.KvBlockSize / instance.PrefillTokensPerSecond)
        : TimeSpan.MaxValue;

    private static bool IsReady(string instance, IReadOnlyList<InstanceLoad> loads)
    {
        foreach (var load in loads)
        {
            if (load.InstanceId == instance)
                return load.Health == InstanceHealth.Ready;
        }
        return false;
    }
}
