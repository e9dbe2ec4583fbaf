using ControlPlane.Engine.Core.KvCache;
using ControlPlane.KvCache;

namespace ControlPlane.Engine.Core.Tests.KvCache;

public class HostKvTierTests
{
    [Fact]
    public void Engine_PrefixEvictedToHostThenAskedAgain_ReloadsItAndAnswersAsBefore()
    {
        // 8 blocks of 4 tokens. A (16 prompt tokens, 17 computed) leaves 4 named blocks cached; B needs 7 blocks: 3 never
        // used, A's unnamed fifth, and 3 reclaimed from the cache tail first (blocks go back last first), which go to host
        // memory. A again shares its first block on the GPU and loads the next two (its last token is always computed).
        var h = new CoreHarness(blocks: 8, blockSize: 4);
        h.Engine.AddHostTier(16);
        var a = CoreHarness.Request("a1", 16, 2, seed: 1);
        h.Engine.Add(a);
        h.RunToEnd();
        var first = h.Tokens["a1"];
        h.Engine.Add(CoreHarness.Request("b", 24, 2, seed: 2));
        h.RunToEnd();
        Assert.Equal(3, h.Engine.HostTier!.StoredBlocks);

        h.Engine.Add(a with { RequestId = "a2" });
        h.RunToEnd();

        Assert.Equal(first, h.Tokens["a2"]);
        Assert.Equal(12, h.Last["a2"].CachedPromptTokens);
        Assert.Equal(8, h.Last["a2"].HostCachedPromptTokens);
        Assert.Equal(2, h.Engine.Pool.LoadedBlocks);
        Assert.Contains(h.Runner.Plans, p => p.LoadedBlocks == 2);
        Assert.Equal(0, h.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Engine_PrefixReloadedFromHost_EqualsARecomputeOnAFreshEngine()
    {
        var request = CoreHarness.Request("x", 20, 6, seed: 5);
        var fresh = CoreHarness.RunAlone(request);
        var h = new CoreHarness(blocks: 8, blockSize: 4);
        h.Engine.AddHostTier(64);
        h.Engine.Add(request);
        h.RunToEnd();
        h.Engine.Add(CoreHarness.Request("y", 28, 1, seed: 6)); // pushes x's blocks out to host memory
        h.RunToEnd();
        h.Engine.Add(request with { RequestId = "x2" });
        h.RunToEnd();
        Assert.True(h.Last["x2"].HostCachedPromptTokens > 0);
        Assert.Equal(fresh.Tokens["x"], h.Tokens["x2"]);
    }

    [Fact]
    public void Offer_PastCapacity_DropsTheLeastRecentlyUsedWithAnEvent()
    {
        var runner = new FakeStepRunner(4, 4);
        var tier = new HostKvTier(runner, capacityBlocks: 2);
        tier.Offer(0, 10, 1);
        tier.Offer(1, 11, 10);
        Assert.True(tier.TryLoad(10, 2, out var parent)); // touches 10: 11 is now the oldest
        Assert.Equal(1UL, parent);
        tier.Offer(3, 12, 11);
        Assert.True(tier.Contains(10));
        Assert.False(tier.Contains(11));
        Assert.Equal(
            [new KvEvent(KvEventKind.Stored, 10, 1, KvTier.Host), new KvEvent(KvEventKind.Stored, 11, 10, KvTier.Host),
             new KvEvent(KvEventKind.Removed, 11, 10, KvTier.Host), new KvEvent(KvEventKind.Stored, 12, 11, KvTier.Host)],
            tier.DrainEvents());
    }

    [Fact]
    public void Pool_ReclaimingANamedBlock_OffersItToTheLowerTierFirst()
    {
        var pool = new KvBlockPool(1);
        var tier = new HostKvTier(new FakeStepRunner(1, 4), 4);
        pool.Lower = tier;
        pool.TryAllocate(out var a);
        pool.Name(a, 42, 7);
        pool.Release(a);
        Assert.True(pool.TryAllocate(out _)); // reclaims 42
        Assert.True(tier.Contains(42));
        Assert.False(pool.TryShare(42, out _));
        Assert.False(pool.TryLoad(42, out _)); // the only block is held: no room to load into
        Assert.True(tier.Contains(42));
    }
}
