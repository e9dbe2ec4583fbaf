using ControlPlane.Engine.Core.KvCache;
using ControlPlane.KvCache;

namespace ControlPlane.Engine.Core.Tests.KvCache;

public class KvBlockPoolTests
{
    [Fact]
    public void Name_ThenReleaseAndReclaim_ReportsStoredThenRemoved()
    {
        var pool = new KvBlockPool(2);
        Assert.True(pool.TryAllocate(out var a));
        pool.Name(a, 111, 7);
        pool.Release(a);
        Assert.Equal(1, pool.Cached);
        Assert.Equal(2, pool.Available);
        Assert.Equal([new KvEvent(KvEventKind.Stored, 111, 7)], pool.DrainEvents());

        Assert.True(pool.TryAllocate(out _)); // the free block first
        Assert.Empty(pool.DrainEvents());
        Assert.True(pool.TryAllocate(out var reclaimed)); // then the cached one, whose name goes
        Assert.Equal(a, reclaimed);
        Assert.Equal([new KvEvent(KvEventKind.Removed, 111, 7)], pool.DrainEvents());
        Assert.False(pool.TryShare(111, out _));
    }

    [Fact]
    public void TryShare_CachedBlock_TakesItBackFromTheCache()
    {
        var pool = new KvBlockPool(4);
        pool.TryAllocate(out var a);
        pool.Name(a, 5, 0);
        pool.Release(a);
        Assert.True(pool.TryShare(5, out var shared));
        Assert.Equal(a, shared);
        Assert.Equal(0, pool.Cached);
        Assert.Equal(1, pool.Used);
        Assert.True(pool.TryShare(5, out _));
        pool.Release(a);
        pool.Release(a);
        Assert.Throws<InvalidOperationException>(() => pool.Release(a));
    }

    [Fact]
    public void Name_HashAlreadyHeld_LeavesTheSecondBlockUnnamed()
    {
        var pool = new KvBlockPool(4);
        pool.TryAllocate(out var a);
        pool.TryAllocate(out var b);
        pool.Name(a, 9, 0);
        pool.Name(b, 9, 0);
        Assert.Single(pool.DrainEvents());
        pool.Release(b);
        Assert.Equal(0, pool.Cached); // unnamed: straight back to the free list
    }

    [Fact]
    public void Hasher_SeededByModelAndBlockSize_NamesDifferAcrossThem()
    {
        int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8];
        var a = new KvBlockHasher("llama", 4).HashAll(tokens);
        Assert.Equal(a, new KvBlockHasher("llama", 4).HashAll(tokens));
        Assert.NotEqual(a, new KvBlockHasher("qwen", 4).HashAll(tokens));
        Assert.NotEqual(a[0], new KvBlockHasher("llama", 8).HashAll(tokens)[0]);
        Assert.Equal(KvBlockHasher.Chain(a[0], tokens.AsSpan(4, 4)), a[1]); // chained: the second block's name depends on the first
    }

    [Fact]
    public void EngineStep_ReportsTheBlocksItFilled_OncePerStep()
    {
        var h = new CoreHarness(blocks: 8, maxBatchedTokens: 64);
        h.Engine.Add(CoreHarness.Request("a", 9, 1));
        var step = h.Step();
        var hasher = new KvBlockHasher("m", 4);
        var expected = hasher.HashAll(CoreHarness.Prompt(9, 0));
        Assert.Equal([new KvEvent(KvEventKind.Stored, expected[0], hasher.Seed), new KvEvent(KvEventKind.Stored, expected[1], expected[0])], step.KvEvents);
        Assert.Empty(h.Step().KvEvents);
    }
}
