using ControlPlane.KvCache;

namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// A dispatcher's copy of a model's prefix index, made of its shards' changes: dispatch matches prompts against
/// <see cref="Index"/> without a call. Pure: the dispatcher grain fetches each shard's changes and applies them here.
/// </summary>
public sealed class KvIndexReplica(int shards)
{
    private readonly (Guid Generation, long Version)[] _shards = new (Guid, long)[shards];

    public int Shards { get; } = shards;
    public KvPrefixIndex Index { get; } = new();

    /// <summary>The shard a block belongs to.</summary>
    public static int ShardOf(ulong hash, int shards) => (int)(hash % (ulong)shards);

    /// <summary>What to ask shard <paramref name="shard"/> for: the generation and version this replica holds of it.</summary>
    public (Guid Generation, long Version) Position(int shard) => _shards[shard];

    public void Apply(int shard, KvIndexChanges changes)
    {
        bool InShard(ulong hash) => ShardOf(hash, Shards) == shard;
        if (changes.Full)
            Index.RemoveBlocks(InShard);
        foreach (var entry in changes.Entries)
        {
            if (entry.Replace)
                Index.Replace(entry.InstanceId, entry.Events, InShard);
            else
                Index.Apply(entry.InstanceId, entry.Events);
        }
        _shards[shard] = (changes.Generation, changes.Version);
    }
}
