using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// The distributed KV cache in a simulated cluster: whether dispatch sees a cluster-wide prefix index fed by every
/// engine's KV events, each engine's host-memory tier, and peer fetch between instances. Costs come from the profile
/// (<see cref="Performance.PerformanceProfile.KvBytesPerToken"/>, host copy rate) and <see cref="PeerFetch"/>.
/// </summary>
public sealed record KvCacheSimulationConfig
{
    /// <summary>Dispatch matches each prompt against the cluster's prefix index (by tier); false: no prefix knowledge.</summary>
    public bool GlobalIndex { get; init; } = true;

    /// <summary>Blocks of host memory per instance for blocks the GPU evicts; 0: the GPU tier only.</summary>
    public int HostTierBlocks { get; init; }

    /// <summary>Peer fetch over the KV data path, decided by <see cref="KvFetchPlanner"/>; null: never.</summary>
    public KvFetchConfig? PeerFetch { get; init; }
}
