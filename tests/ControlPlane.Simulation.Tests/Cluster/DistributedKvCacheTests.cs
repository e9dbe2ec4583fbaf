using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

public class DistributedKvCacheTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load("llama-3.1-8b-h200-128k");

    // Trace blocks of 32 tokens (two 16-token engine blocks). r1 and r2 continue r0's conversation; r3 is unrelated.
    private static readonly SimulatedRequest[] Conversation =
    [
        new(0, 128, 4, [1, 2, 3, 4]),
        new(10_000, 160, 4, [1, 2, 3, 4, 5]),
        new(20_000, 40, 4),
        new(30_000, 192, 4, [1, 2, 3, 4, 5, 6]),
    ];

    [Fact]
    public void Run_GlobalIndexWithPrefixAwareDispatch_SendsEachTurnToTheInstanceHoldingTheConversation()
    {
        var result = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 4,
            Profile = Profile,
            Dispatch = new DispatchConfig { Policy = "prefix-aware" },
            TraceBlockTokens = 32,
            KvCache = new KvCacheSimulationConfig(),
        }).Run(Conversation);
        var turns = result.Outcomes.Where(o => o.Index != 2).ToArray();
        Assert.Single(turns.Select(o => o.Instance).Distinct());
        Assert.Equal([0, 128, 160], turns.Select(o => o.CachedTokens));
    }

    [Fact]
    public void Run_PeerFetchWhenDispatchIgnoresThePrefix_FetchesFromTheHolderAndCountsItAsPeerHits()
    {
        // Round robin sends the second turn elsewhere; the index shows the first instance holds its prefix, and the
        // planner fetches it (the new instance has no measured prefill rate yet: recomputing has no known price).
        var result = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 2,
            Profile = Profile,
            Dispatch = new DispatchConfig { Policy = "round-robin" },
            TraceBlockTokens = 32,
            KvCache = new KvCacheSimulationConfig { PeerFetch = new KvFetchConfig { MinBlocks = 1 } },
        }).Run(Conversation[..2]);
        var second = result.Outcomes[1];
        Assert.NotEqual(result.Outcomes[0].Instance, second.Instance);
        Assert.Equal(128, second.PeerFetchedTokens);
        Assert.Equal(128, second.CachedTokens);
        Assert.Equal(128.0 / 288, result.HitRateByTier.Peer, 9);
        // It waited for the transfer: 8 blocks of 2 MiB at 10 GB/s plus 2 ms.
        Assert.True(second.FirstTokenMs - second.ArrivalMs > 2 + 8 * 2.097152 / 10, $"TTFT {second.FirstTokenMs - second.ArrivalMs} ms");
    }

    [Fact]
    public void Run_HostTierOnOneInstance_BringsAnEvictedConversationBackFromHostMemory()
    {
        // One instance with room for 40 blocks: the unrelated 600-token prompt pushes the conversation's blocks out.
        SimulatedRequest[] trace = [new(0, 128, 4, [1, 2, 3, 4]), new(10_000, 600, 4), new(20_000, 160, 4, [1, 2, 3, 4, 5])];
        var small = Profile with { TotalKvBlocks = 40, MaxContextTokens = 640 };
        var result = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 1,
            Profile = small,
            Dispatch = new DispatchConfig { Policy = "prefix-aware" },
            TraceBlockTokens = 32,
            KvCache = new KvCacheSimulationConfig { HostTierBlocks = 100 },
        }).Run(trace);
        var back = result.Outcomes[2];
        Assert.Equal(128, back.CachedTokens);
        Assert.True(back.HostCachedTokens > 0, "some of the conversation should have come back from host memory");
    }
}
