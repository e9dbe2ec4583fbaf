using System.Collections.Concurrent;
using ControlPlane.Scheduling.KvCache;
using Microsoft.Extensions.Options;

namespace ControlPlane.Grains.KvCache;

/// <summary>The silo's prefix index replicas, one per model (see <see cref="SharedKvIndexReplica"/>); none when the index is off.</summary>
public sealed class KvIndexReplicas(IOptions<KvCacheConfig> config) : IDisposable
{
    private readonly ConcurrentDictionary<string, SharedKvIndexReplica> _byModel = new(StringComparer.Ordinal);

    public SharedKvIndexReplica? For(string model) => config.Value.IndexShards <= 0
        ? null
        : _byModel.GetOrAdd(model, _ => new SharedKvIndexReplica(config.Value.IndexShards));

    public void Dispose()
    {
        foreach (var replica in _byModel.Values)
            replica.Dispose();
    }
}
