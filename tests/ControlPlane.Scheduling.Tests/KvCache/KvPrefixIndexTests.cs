using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Scheduling.Tests.KvCache;

public class KvPrefixIndexTests
{
    private static KvEvent Stored(ulong hash, KvTier tier = KvTier.Gpu) => new(KvEventKind.Stored, hash, 0, tier);
    private static KvEvent Removed(ulong hash, KvTier tier = KvTier.Gpu) => new(KvEventKind.Removed, hash, 0, tier);

    [Fact]
    public void Match_HandMadeEventSequence_GivesEachInstanceItsLeadingRunByTier()
    {
        var index = new KvPrefixIndex();
        index.Apply("a", [Stored(1), Stored(2), Stored(3)]);
        index.Apply("b", [Stored(1), Stored(2, KvTier.Host), Stored(3, KvTier.Host), Stored(4, KvTier.Host)]);
        index.Apply("c", [Stored(2), Stored(3)]); // no block 1: its blocks are no prefix of this prompt
        // a loses block 2 from the GPU to host memory (stored on host, then removed from the GPU): still held.
        index.Apply("a", [Stored(2, KvTier.Host), Removed(2)]);
        // b drops block 3 altogether: its run stops at block 2.
        index.Apply("b", [Removed(3, KvTier.Host)]);

        var match = index.Match([1, 2, 3, 4, 5]);

        Assert.Equal(5, match.PromptBlocks);
        Assert.Equal((3, 1), match.For("a"));
        Assert.Equal((2, 1), match.For("b"));
        Assert.Equal((0, 0), match.For("c"));
        Assert.Equal(3, match.Longest);
        Assert.Equal("a", match.LongestHolder);
        Assert.Equal(2, match.ByInstance.Count);
    }

    [Fact]
    public void Apply_StoredTwiceInOneTierThenRemovedOnce_IsGone()
    {
        var index = new KvPrefixIndex();
        index.Apply("a", [Stored(7), Stored(7)]);
        Assert.Equal(1, index.Count);
        index.Apply("a", [Removed(7)]);
        Assert.Equal(0, index.Count);
        Assert.Equal(0, index.Blocks);
        Assert.Equal(0, index.Match([7]).Longest);
    }

    [Fact]
    public void Replace_AfterLostEvents_TakesTheInstancesCurrentHoldingsOnly()
    {
        var index = new KvPrefixIndex();
        index.Apply("a", [Stored(1), Stored(2)]);
        index.Apply("b", [Stored(1)]);
        index.Replace("a", [Stored(1, KvTier.Host), Stored(9)]);
        Assert.Equal((false, true), index.Holds("a", 1));
        Assert.Equal((false, false), index.Holds("a", 2));
        Assert.Equal((true, false), index.Holds("b", 1));
        Assert.Equal(3, index.Count);
        index.Remove("b");
        Assert.Equal((1, 1), index.Match([1, 2]).For("a"));
        Assert.Equal((0, 0), index.Match([1, 2]).For("b"));
    }

    [Fact]
    public void Match_EqualRuns_PrefersTheHolderWithFewerHostBlocks()
    {
        var index = new KvPrefixIndex();
        index.Apply("host", [Stored(1, KvTier.Host), Stored(2, KvTier.Host)]);
        index.Apply("gpu", [Stored(1), Stored(2)]);
        Assert.Equal("gpu", index.Match([1, 2]).LongestHolder);
    }
}
