using ControlPlane.Instances;

namespace ControlPlane.Grains;

/// <summary>One model's global view: its instances and their loads, from which dispatchers take snapshots.</summary>
[Alias("ControlPlane.ISchedulerGrain")]
public interface ISchedulerGrain : IGrainWithStringKey
{
    [Alias("Register")]
    Task RegisterInstanceAsync(InstanceDescriptor instance, CancellationToken cancellationToken = default);

    [Alias("Unregister")]
    Task UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>A host's batched load reports (one call per host per period, not one per instance).</summary>
    /// <returns>The instances the scheduler does not know (it was reactivated, for instance): the host registers them again.</returns>
    [Alias("ReportLoad")]
    Task<IReadOnlyList<string>> ReportLoadAsync(IReadOnlyList<InstanceLoad> loads, CancellationToken cancellationToken = default);

    [Alias("GetSnapshot")]
    Task<LoadSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default);

    [Alias("GetInstances")]
    Task<IReadOnlyList<InstanceDescriptor>> GetInstancesAsync(CancellationToken cancellationToken = default);

    /// <summary>Migrations in flight and role changes under way.</summary>
    [Alias("GetActivity")]
    Task<SchedulerActivity> GetActivityAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves an instance to another role by hand (the admin endpoint), and remembers it: a worker that restarts starts its
    /// instances in their pool's role, and the scheduler sets the assigned one again when such an instance registers (as
    /// for the pool balancer's changes); one whose pool's role changed meanwhile (a new deployment) keeps its new one.
    /// </summary>
    [Alias("AssignRole")]
    Task AssignRoleAsync(string instanceId, InstanceRole role, CancellationToken cancellationToken = default);

    /// <summary>A gateway holds <paramref name="held"/> requests of this model for want of a ready instance (scale from zero).</summary>
    [Alias("ReportHeld")]
    Task ReportHeldAsync(string gateway, int held, CancellationToken cancellationToken = default);

    /// <summary>
    /// What a gateway observed of the model's latencies over its last window: the autoscaling planner adds a replica to
    /// a pool whose 90th percentile misses its objective (time to first token: the prefill pool, else the one that takes
    /// new requests; time per output token: every pool that decodes).
    /// </summary>
    [Alias("ReportLatency")]
    Task ReportLatencyAsync(string gateway, LatencyReport report, CancellationToken cancellationToken = default);

    /// <summary>The replicas the autoscaling planner wants for the model, with what it saw.</summary>
    [Alias("GetDesiredReplicas")]
    Task<DesiredReplicas> GetDesiredReplicasAsync(CancellationToken cancellationToken = default);
}
