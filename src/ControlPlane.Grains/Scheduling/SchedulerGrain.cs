using ControlPlane.Instances;

namespace ControlPlane.Grains.Scheduling;

/// <summary>
/// One model's instances and their latest loads. Hosts report in batches about every 100 ms; dispatchers
/// copy the snapshot at the same rate. An instance that stops reporting for <see cref="StaleAfter"/> is
/// left out of snapshots until it reports again. Its state lives in memory: when it is activated anew (its
/// silo or its directory entry was lost), hosts learn from their next report that it does not know their
/// instances, and register them again within a period.
/// </summary>
public sealed class SchedulerGrain(TimeProvider time) : Grain, ISchedulerGrain
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(5);
    private readonly Dictionary<string, InstanceDescriptor> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceLoad> _loads = new(StringComparer.Ordinal);
    private LoadSnapshot _snapshot = LoadSnapshot.Empty;
    private bool _dirty;
    private long _version;

    public Task RegisterInstanceAsync(InstanceDescriptor instance, CancellationToken cancellationToken = default)
    {
        _instances[instance.InstanceId] = instance;
        _loads[instance.InstanceId] = new InstanceLoad
        {
            InstanceId = instance.InstanceId,
            Role = instance.Role,
            TotalKvBlocks = instance.TotalKvBlocks,
            KvBlockSize = instance.KvBlockSize,
            ReportedAt = time.GetUtcNow(),
        };
        _dirty = true;
        return Task.CompletedTask;
    }

    public Task UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        _dirty |= _instances.Remove(instanceId) | _loads.Remove(instanceId);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ReportLoadAsync(IReadOnlyList<InstanceLoad> loads, CancellationToken cancellationToken = default)
    {
        List<string>? unknown = null;
        foreach (var load in loads)
        {
            if (_instances.ContainsKey(load.InstanceId))
                _loads[load.InstanceId] = load;
            else
                (unknown ??= []).Add(load.InstanceId);
        }
        _dirty = true;
        return Task.FromResult<IReadOnlyList<string>>(unknown ?? []);
    }

    public Task<LoadSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_dirty || now - _snapshot.TakenAt > StaleAfter)
        {
            var fresh = _loads.Values.Where(l => now - l.ReportedAt <= StaleAfter).OrderBy(l => l.InstanceId, StringComparer.Ordinal).ToArray();
            _snapshot = new LoadSnapshot(++_version, now, fresh);
            _dirty = false;
        }
        return Task.FromResult(_snapshot);
    }

    public Task<IReadOnlyList<InstanceDescriptor>> GetInstancesAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<InstanceDescriptor>>([.. _instances.Values.OrderBy(i => i.InstanceId, StringComparer.Ordinal)]);
}
