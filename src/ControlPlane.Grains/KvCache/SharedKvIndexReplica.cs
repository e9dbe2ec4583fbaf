using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Grains.KvCache;

/// <summary>
/// One replica of a model's prefix index per silo, shared by every dispatcher activation there: a cluster's index is
/// large (an entry per block held per instance), so it is held once per silo, not once per activation. Matches take a
/// read lock; one refresh at a time fetches the shards' changes and applies them under the write lock.
/// </summary>
public sealed class SharedKvIndexReplica(int shards) : IDisposable
{
    private readonly KvIndexReplica _replica = new(shards);
    private readonly ReaderWriterLockSlim _lock = new();
    private int _refreshing;

    public PrefixMatch Match(ReadOnlySpan<ulong> hashes)
    {
        _lock.EnterReadLock();
        try
        {
            return _replica.Index.Match(hashes);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Catches up with the shards of <paramref name="model"/>'s index; returns at once when another caller is at it.</summary>
    public async Task RefreshAsync(IGrainFactory grains, string model)
    {
        if (Interlocked.Exchange(ref _refreshing, 1) == 1)
            return;
        try
        {
            var asks = new Task<ControlPlane.KvCache.KvIndexChanges>[_replica.Shards];
            _lock.EnterReadLock();
            try
            {
                for (var s = 0; s < asks.Length; s++)
                {
                    var (generation, version) = _replica.Position(s);
                    asks[s] = grains.GetGrain<IKvIndexGrain>(KvIndexGrain.Key(model, s)).GetChangesAsync(generation, version);
                }
            }
            finally
            {
                _lock.ExitReadLock();
            }
            for (var s = 0; s < asks.Length; s++)
            {
                ControlPlane.KvCache.KvIndexChanges changes;
                try
                {
                    changes = await asks[s];
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    continue; // a shard that cannot answer now keeps this replica's copy of it; the next refresh asks again
                }
                _lock.EnterWriteLock();
                try
                {
                    _replica.Apply(s, changes);
                }
                finally
                {
                    _lock.ExitWriteLock();
                }
            }
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    public void Dispose() => _lock.Dispose();
}
