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

    private readonly Dictionary<string, (LatencyReport Report, DateTimeOffset At)> _latency = new(StringComparer.Ordinal);
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
        var observed = ObservedLatency(now);
        // The first token is the prefill pool's work where there is one; tokens after it, every pool that decodes.
        var firstTokens = roles.Contains(InstanceRole.Prefill) ? InstanceRole.Prefill : entry;
        var pools = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            if (!_autoscalers.TryGetValue(role, out var planner))
                _autoscalers[role] = planner = new AutoscalePlanner(config, config.MinReplicas, config.MaxReplicas);
            var mine = loads.Where(l => l.Role == role).ToArray();
            var name = role.ToString().ToLowerInvariant();
            var replicas = _desired.Pools.TryGetValue(name, out var last) ? last : mine.Length;
            var sample = new PoolSample(replicas, [.. mine.Where(l => l.Health == InstanceHealth.Ready)], role == entry ? held : 0);
            if (role == firstTokens)
                sample = sample with { TtftP90Ms = observed.TtftP90Ms, SloTtftMs = observed.SloTtftMs };
            if (role != InstanceRole.Prefill)
                sample = sample with { TpotP90Ms = observed.TpotP90Ms, SloTpotMs = observed.SloTpotMs };
            pools[name] = planner.Plan(sample, now);
        }
        _desired = observed with { Desired = pools[entry.ToString().ToLowerInvariant()], Instances = loads.Length, Held = held, At = now, Pools = pools };
        return Task.CompletedTask;
    }

    public Task ReportLatencyAsync(string gateway, LatencyReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        _latency[gateway] = (report, time.GetUtcNow());
        return Task.CompletedTask;
    }

    /// <summary>The gateways' fresh reports merged: 90th percentiles where there are enough requests, and the objectives.</summary>
    private DesiredReplicas ObservedLatency(DateTimeOffset now)
    {
        foreach (var stale in _latency.Where(l => now - l.Value.At > HeldReportTtl).Select(l => l.Key).ToList())
            _latency.Remove(stale);
        var (ttft, tpot) = (LatencyDigest.Empty, LatencyDigest.Empty);
        double? sloTtft = null, sloTpot = null;
        foreach (var (report, _) in _latency.Values)
        {
            ttft = ttft.Merge(report.TimeToFirstToken);
            tpot = tpot.Merge(report.TimePerOutputToken);
            sloTtft ??= report.SloTtftMs;
            sloTpot ??= report.SloTpotMs;
        }
        return new DesiredReplicas
        {
            TtftP90Ms = AutoscalePlanner.P90(ttft),
            TpotP90Ms = AutoscalePlanner.P90(tpot),
            SloTtftMs = sloTtft,
            SloTpotMs = sloTpot,
            LatencySamples = ttft.Count,
        };
    }

    public Task ReportHeldAsync(string gateway, int held, CancellationToken cancellationToken = default)
    {
        _held[gateway] = (held, time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<DesiredReplicas> GetDesiredReplicasAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(_desired.Desired is null ? ObservedLatency(now) with { Instances = FreshLoads(now).Length, Held = Held(now), At = now } : _desired);
    }

    private int Held(DateTimeOffset now) => _held.Values.Where(h => now - h.At <= HeldReportTtl).Sum(h => h.Held);
}
