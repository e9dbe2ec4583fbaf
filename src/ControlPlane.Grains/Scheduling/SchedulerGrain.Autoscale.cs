using ControlPlane.Instances;
using ControlPlane.Scheduling.Autoscaling;

namespace ControlPlane.Grains.Scheduling;

/// <summary>
/// The autoscaler's half of the scheduler: every <see cref="AutoscaleConfig.Period"/> it runs the
/// <see cref="AutoscalePlanner"/> over the fresh loads and the requests gateways hold for want of an instance; the
/// operator reads the decision (<c>GET /admin/models/{model}/autoscale</c>) and applies it through the ModelService's
/// scale subresource, within the pool's bounds.
/// </summary>
public sealed partial class SchedulerGrain
{
    /// <summary>A gateway's held count that is not refreshed for this long no longer counts (the gateway went away).</summary>
    public static readonly TimeSpan HeldReportTtl = TimeSpan.FromSeconds(30);

    private readonly Dictionary<InstanceRole, AutoscalePlanner> _autoscalers = [];
    private readonly Dictionary<string, (int Held, DateTimeOffset At)> _held = new(StringComparer.Ordinal);
    private DesiredReplicas _desired = new();

    /// <summary>
    /// Each pool (role) is planned apart over its own instances; requests held for want of an instance count against
    /// the pool that takes new requests (mixed, else decode). A model with no instance at all is a mixed pool at zero.
    /// </summary>
    private Task AutoscaleAsync(CancellationToken cancellationToken)
    {
        var config = autoscale.Value;
        var now = time.GetUtcNow();
        var loads = FreshLoads(now);
        var held = Held(now);
        var roles = loads.Select(l => l.Role).Distinct().ToList();
        if (roles.Count == 0)
            roles.Add(InstanceRole.Mixed);
        var entry = roles.Contains(InstanceRole.Mixed) ? InstanceRole.Mixed : roles.Contains(InstanceRole.Decode) ? InstanceRole.Decode : roles[0];
        var pools = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            if (!_autoscalers.TryGetValue(role, out var planner))
                _autoscalers[role] = planner = new AutoscalePlanner(config, config.MinReplicas, config.MaxReplicas);
            var mine = loads.Where(l => l.Role == role).ToArray();
            var name = role.ToString().ToLowerInvariant();
            var replicas = _desired.Pools.TryGetValue(name, out var last) ? last : mine.Length;
            pools[name] = planner.Plan(new PoolSample(replicas, [.. mine.Where(l => l.Health == InstanceHealth.Ready)], role == entry ? held : 0), now);
        }
        _desired = new DesiredReplicas { Desired = pools[entry.ToString().ToLowerInvariant()], Instances = loads.Length, Held = held, At = now, Pools = pools };
        return Task.CompletedTask;
    }

    public Task ReportHeldAsync(string gateway, int held, CancellationToken cancellationToken = default)
    {
        _held[gateway] = (held, time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<DesiredReplicas> GetDesiredReplicasAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(_desired.Desired is null ? new DesiredReplicas { Instances = FreshLoads(now).Length, Held = Held(now), At = now } : _desired);
    }

    private int Held(DateTimeOffset now) => _held.Values.Where(h => now - h.At <= HeldReportTtl).Sum(h => h.Held);
}
