using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Grains.KvCache;

/// <summary>
/// One shard of a model's prefix index, on a control silo: <see cref="KvIndexShard"/> behind a grain. Its state is in
/// memory only, by design: after a restart the engines' next batches are refused and each engine resends its holdings,
/// so the shard is rebuilt from the engines' current state within a publish period or two, never from a stale copy.
/// </summary>
public sealed class KvIndexGrain : Grain, IKvIndexGrain
{
    private readonly KvIndexShard _shard = new();

    public Task<bool> PublishAsync(KvEventBatch batch, CancellationToken cancellationToken = default) => Task.FromResult(_shard.Publish(batch));

    public Task ResyncAsync(KvEventBatch holdings, CancellationToken cancellationToken = default)
    {
        _shard.Resync(holdings);
        return Task.CompletedTask;
    }

    public Task ForgetAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        _shard.Forget(instanceId);
        return Task.CompletedTask;
    }

    public Task<KvIndexChanges> GetChangesAsync(Guid generation, long version, CancellationToken cancellationToken = default) =>
        Task.FromResult(_shard.Changes(generation, version));

    /// <summary>The grain key of shard <paramref name="shard"/> of <paramref name="model"/>'s index.</summary>
    public static string Key(string model, int shard) => $"{model}/{shard}";
}
