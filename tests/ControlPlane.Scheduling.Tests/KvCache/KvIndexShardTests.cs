using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Scheduling.Tests.KvCache;

public class KvIndexShardTests
{
    private static KvEvent Stored(ulong hash, KvTier tier = KvTier.Gpu) => new(KvEventKind.Stored, hash, 0, tier);

    [Fact]
    public void Publish_UnknownInstanceOrGap_IsRefusedUntilAResync()
    {
        var shard = new KvIndexShard();
        Assert.False(shard.Publish(new KvEventBatch("a", 7, 1, [Stored(1)]))); // a new shard knows no one
        shard.Resync(new KvEventBatch("a", 7, 1, [Stored(1), Stored(2)]));
        Assert.True(shard.Publish(new KvEventBatch("a", 7, 2, [Stored(3)])));
        Assert.False(shard.Publish(new KvEventBatch("a", 7, 4, [Stored(5)]))); // batch 3 was lost
        Assert.False(shard.Publish(new KvEventBatch("a", 8, 3, [Stored(5)]))); // the engine restarted
        Assert.Equal(3, shard.Index.Count);
        Assert.Equal(0, shard.Index.Match([5]).Longest);
    }

    [Fact]
    public void Replica_CatchesUpFromTheLog_ThenStartsOverAfterTheShardRestarts()
    {
        var shard = new KvIndexShard();
        var replica = new KvIndexReplica(1);
        shard.Resync(new KvEventBatch("a", 1, 1, [Stored(1), Stored(2)]));
        replica.Apply(0, shard.Changes(replica.Position(0).Generation, replica.Position(0).Version));
        Assert.Equal(2, replica.Index.Match([1, 2]).Longest);

        shard.Publish(new KvEventBatch("a", 1, 2, [new KvEvent(KvEventKind.Removed, 2, 0), Stored(2, KvTier.Host)]));
        var delta = shard.Changes(replica.Position(0).Generation, replica.Position(0).Version);
        Assert.False(delta.Full);
        Assert.Single(delta.Entries);
        replica.Apply(0, delta);
        Assert.Equal((2, 1), replica.Index.Match([1, 2]).For("a"));

        // The shard restarts empty: its new generation tells the replica to drop what it knew of the shard.
        var restarted = new KvIndexShard();
        var full = restarted.Changes(replica.Position(0).Generation, replica.Position(0).Version);
        Assert.True(full.Full);
        replica.Apply(0, full);
        Assert.Equal(0, replica.Index.Count);
        // The engine's next batch is refused, it resends its holdings, and the replica sees them again.
        Assert.False(restarted.Publish(new KvEventBatch("a", 1, 3, [Stored(9)])));
        restarted.Resync(new KvEventBatch("a", 1, 4, [Stored(1), Stored(2, KvTier.Host), Stored(9)]));
        replica.Apply(0, restarted.Changes(replica.Position(0).Generation, replica.Position(0).Version));
        Assert.Equal((2, 1), replica.Index.Match([1, 2]).For("a"));
    }

    [Fact]
    public void Changes_ReplicaBehindTheLog_GetsTheWholeShard()
    {
        var shard = new KvIndexShard(maxLogEvents: 3);
        shard.Resync(new KvEventBatch("a", 1, 1, [Stored(1)]));
        var behind = (shard.Generation, shard.Version);
        for (var i = 2; i < 8; i++)
            shard.Publish(new KvEventBatch("a", 1, i, [Stored((ulong)i)]));
        var changes = shard.Changes(behind.Generation, behind.Version);
        Assert.True(changes.Full);
        Assert.Equal(7, changes.Entries.Single().Events.Count);
    }

    [Fact]
    public void Replica_ResyncOfOneShard_LeavesTheOtherShardsBlocksAlone()
    {
        var replica = new KvIndexReplica(2);
        var even = new KvIndexShard();
        var odd = new KvIndexShard();
        even.Resync(new KvEventBatch("a", 1, 1, [Stored(2), Stored(4)]));
        odd.Resync(new KvEventBatch("a", 1, 1, [Stored(1), Stored(3)]));
        replica.Apply(0, even.Changes(default, 0));
        replica.Apply(1, odd.Changes(default, 0));
        Assert.Equal(4, replica.Index.Match([2, 1, 4, 3]).Longest);
        even.Resync(new KvEventBatch("a", 1, 2, [Stored(2)]));
        replica.Apply(0, even.Changes(replica.Position(0).Generation, replica.Position(0).Version));
        Assert.Equal(2, replica.Index.Match([2, 1, 4, 3]).Longest);
        Assert.Equal(3, replica.Index.Count);
    }
}
