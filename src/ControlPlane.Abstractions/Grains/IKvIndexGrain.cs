using ControlPlane.KvCache;

namespace ControlPlane.Grains;

/// <summary>
/// One shard of a model's cluster-wide prefix index (key <c>{model}/{shard}</c>; a block's shard is its hash modulo the
/// shard count): which instance holds which block, and in which tier. Kept in memory and rebuilt from the engines after
/// a restart: a batch it cannot place (a new activation, a gap) is refused, and the engine resends its holdings.
/// </summary>
[Alias("ControlPlane.IKvIndexGrain")]
public interface IKvIndexGrain : IGrainWithStringKey
{
    /// <summary>Applies the next batch of an instance's events; false: the shard needs the instance's whole holdings first.</summary>
    [Alias("Publish")]
    Task<bool> PublishAsync(KvEventBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Replaces what the shard knows of the instance with its holdings (stored events); later batches follow on from its sequence.</summary>
    [Alias("Resync")]
    Task ResyncAsync(KvEventBatch holdings, CancellationToken cancellationToken = default);

    /// <summary>Forgets an instance that is gone.</summary>
    [Alias("Forget")]
    Task ForgetAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>The changes after <paramref name="version"/> of <paramref name="generation"/>, or the whole shard.</summary>
    [Alias("GetChanges")]
    Task<KvIndexChanges> GetChangesAsync(Guid generation, long version, CancellationToken cancellationToken = default);
}
