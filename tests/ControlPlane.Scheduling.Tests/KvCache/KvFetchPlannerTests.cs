using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Scheduling.Tests.Dispatch;

namespace ControlPlane.Scheduling.Tests.KvCache;

public class KvFetchPlannerTests
{
    // 2 MiB blocks of 16 tokens (Llama-3-8B); 10 GB/s and 2 ms: 100 blocks arrive in about 23 ms.
    private static readonly KvFetchPlanner Planner = new(new KvFetchConfig { BytesPerSecond = 10e9, Latency = TimeSpan.FromMilliseconds(2), MinBlocks = 4 }, 2 << 20);

    private static PrefixMatch Match(int peerBlocks, int localBlocks)
    {
        var index = new KvPrefixIndex();
        index.Apply("peer", Enumerable.Range(1, peerBlocks).Select(h => new KvEvent(KvEventKind.Stored, (ulong)h, 0)));
        index.Apply("here", Enumerable.Range(1, localBlocks).Select(h => new KvEvent(KvEventKind.Stored, (ulong)h, 0)));
        return index.Match([.. Enumerable.Range(1, 200).Select(i => (ulong)i)]);
    }

    [Fact]
    public void Plan_FetchFasterThanPrefill_FetchesTheMissingBlocksFromTheLongestHolder()
    {
        var here = Loads.Of("here") with { PrefillTokensPerSecond = 40_000 }; // 1,600 tokens: 40 ms to recompute
        var fetch = Planner.Plan(Match(peerBlocks: 110, localBlocks: 10), here, [here, Loads.Of("peer")]);
        Assert.NotNull(fetch);
        Assert.Equal(("peer", 10, 100), (fetch.SourceInstance, fetch.FirstBlock, fetch.BlockCount));
        Assert.Equal(2 + 100 * (2 << 20) / 10e9 * 1000, fetch.FetchTime.TotalMilliseconds, 3);
        Assert.Equal(40, fetch.RecomputeTime.TotalMilliseconds, 3);
    }

    [Fact]
    public void Plan_PrefillFasterThanTheDataPath_Recomputes()
    {
        var here = Loads.Of("here") with { PrefillTokensPerSecond = 200_000 }; // 1,600 tokens in 8 ms < 23 ms
        Assert.Null(Planner.Plan(Match(110, 10), here, [here, Loads.Of("peer")]));
    }

    [Fact]
    public void Plan_FewMissingBlocksOrPeerNotReady_Recomputes()
    {
        var here = Loads.Of("here") with { PrefillTokensPerSecond = 1_000 };
        Assert.Null(Planner.Plan(Match(13, 10), here, [here, Loads.Of("peer")]));
        Assert.Null(Planner.Plan(Match(110, 10), here, [here, Loads.Of("peer", health: Instances.InstanceHealth.Draining)]));
        Assert.Null(Planner.Plan(Match(110, 110), here, [here, Loads.Of("peer")])); // the chosen one is the longest holder
    }
}
