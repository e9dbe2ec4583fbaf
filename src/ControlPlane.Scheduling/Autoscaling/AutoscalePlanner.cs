using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Autoscaling;

/// <summary>What the planner sees of a pool: its replicas now, its instances' loads, and requests held for want of an instance.</summary>
/// <param name="Replicas">The pool's replicas as last decided (instances starting included).</param>
/// <param name="Loads">The pool's instances that report.</param>
/// <param name="Pending">Requests the gateway holds because no instance is ready (scale from zero).</param>
/// <param name="TtftP90Ms">Observed time to first token, 90th percentile over the last window, when known.</param>
/// <param name="SloTtftMs">The pool's TTFT objective, when it has one.</param>
/// <param name="TpotP90Ms">Observed time per output token, 90th percentile over the last window, when known.</param>
/// <param name="SloTpotMs">The pool's TPOT objective, when it has one.</param>
public sealed record PoolSample(int Replicas, IReadOnlyList<InstanceLoad> Loads, int Pending = 0, double? TtftP90Ms = null, double? SloTtftMs = null,
    double? TpotP90Ms = null, double? SloTpotMs = null);

/// <summary>
/// Desired replicas for one pool. Demand is the sum of the instances' usages, each the higher of its virtual KV usage
/// (blocks in use and queued, over capacity: what dispatch and migration read) and its batch occupancy (running and
/// waiting requests over <see cref="AutoscaleConfig.BatchCapacity"/>); the recommendation is demand over
/// <see cref="AutoscaleConfig.TargetUsage"/>, one more when the observed TTFT or TPOT misses its objective, at least one while
/// any request waits. As Kubernetes' HPA stabilizes: the pool grows to the lowest recommendation of the scale-up
/// window and shrinks to the highest of the scale-down window; it goes to zero only after
/// <see cref="AutoscaleConfig.IdleToZero"/> without a request, and comes back from zero at the first held request.
/// Pure: the scheduler grain runs it on a timer, the simulator in virtual time.
/// </summary>
public sealed class AutoscalePlanner(AutoscaleConfig config, int minReplicas, int maxReplicas)
{
    private readonly List<(DateTimeOffset At, int Recommendation)> _history = [];
    private DateTimeOffset _lastBusy = DateTimeOffset.MinValue;

    /// <summary>Fewer finished requests than this in the window give no percentile (one slow request is not a trend).</summary>
    public const int MinLatencySamples = 20;

    /// <summary>The 90th percentile the planner holds to an objective: null with fewer than <see cref="MinLatencySamples"/> requests.</summary>
    public static double? P90(LatencyDigest digest) => digest.Count >= MinLatencySamples ? digest.Percentile(0.9) : null;

    public AutoscaleConfig Config { get; } = config;
    public int MinReplicas { get; } = minReplicas;
    public int MaxReplicas { get; } = Math.Max(minReplicas, maxReplicas);

    private readonly List<(DateTimeOffset At, double Demand)> _demand = [];

    /// <summary>The replicas the pool's load calls for right now, before stabilization.</summary>
    public int Recommend(PoolSample sample) => Recommend(sample, Demand(sample));

    /// <summary>The pool's demand in instances at full usage: the instances' usages plus what the gateways hold.</summary>
    public double Demand(PoolSample sample)
    {
        var demand = (double)sample.Pending / Config.BatchCapacity;
        foreach (var load in sample.Loads)
            demand += Usage(load);
        return demand;
    }

    private int Recommend(PoolSample sample, double demand)
    {
        var requests = sample.Pending;
        foreach (var load in sample.Loads)
            requests += load.RunningRequests + load.WaitingRequests;
        var recommendation = (int)Math.Ceiling(demand / Config.TargetUsage - 1e-9);
        // An objective missed calls for one more instance than serve now, whatever the usage says (the usage target is only a
        // proxy). One more than those that report, not than the replicas decided: while the one added starts (a minute, with
        // the miss still observed) the pool does not grow by one every period.
        if ((sample.TtftP90Ms is { } ttft && sample.SloTtftMs is { } sloTtft && ttft > sloTtft)
            || (sample.TpotP90Ms is { } tpot && sample.SloTpotMs is { } sloTpot && tpot > sloTpot))
            recommendation = Math.Max(recommendation, sample.Loads.Count + 1);
        if (requests > 0)
            recommendation = Math.Max(recommendation, 1);
        // Grow at most by doubling (and MaxStepUp) per plan: a new instance's load shows before the next step.
        recommendation = Math.Min(recommendation, sample.Replicas + Math.Min(Config.MaxStepUp, Math.Max(1, sample.Replicas)));
        return Math.Clamp(recommendation, MinReplicas, MaxReplicas);
    }

    /// <summary>The replicas to run from <paramref name="now"/> on.</summary>
    public int Plan(PoolSample sample, DateTimeOffset now)
    {
        var demand = Demand(sample);
        _demand.Add((now, demand));
        _demand.RemoveAll(d => now - d.At > Config.TrendWindow);
        if (Config.Lookahead > TimeSpan.Zero && _demand.Count >= 2 && now > _demand[0].At)
        {
            // A rising demand is met where it will be once a new instance has started.
            var slope = (demand - _demand[0].Demand) / (now - _demand[0].At).TotalSeconds;
            if (slope > 0)
                demand += slope * Config.Lookahead.TotalSeconds;
        }
        var recommendation = Recommend(sample, demand);
        // A planner that starts (a scheduler activated anew) counts the replicas it finds as recommended: it does not
        // scale in before a whole window has said so.
        if (_history.Count == 0)
            _history.Add((now, sample.Replicas));
        _history.Add((now, recommendation));
        var keep = Config.ScaleDownWindow > Config.ScaleUpWindow ? Config.ScaleDownWindow : Config.ScaleUpWindow;
        _history.RemoveAll(h => now - h.At > keep);
        // Idle is counted from the last request seen, or from the first plan (a pool just deployed is not idle yet).
        if (_lastBusy == DateTimeOffset.MinValue || sample.Pending > 0 || sample.Loads.Any(l => l.RunningRequests + l.WaitingRequests > 0))
            _lastBusy = now;
        if (sample.Replicas == 0)
            return sample.Pending > 0 ? Math.Max(1, recommendation) : Math.Clamp(0, MinReplicas, MaxReplicas);
        var current = Math.Clamp(sample.Replicas, MinReplicas, MaxReplicas);
        if (recommendation > current)
        {
            var up = _history.Where(h => now - h.At <= Config.ScaleUpWindow).Min(h => h.Recommendation);
            return Math.Max(current, up);
        }
        if (recommendation < current)
        {
            var down = _history.Where(h => now - h.At <= Config.ScaleDownWindow).Max(h => h.Recommendation);
            var target = Math.Min(current, down);
            if (target == 0 && now - _lastBusy < Config.IdleToZero)
                target = 1;
            return Math.Clamp(target, MinReplicas, MaxReplicas);
        }
        return current;
    }

    /// <summary>An instance's usage: the higher of its virtual KV usage and its batch occupancy.</summary>
    public double Usage(InstanceLoad load)
    {
        var kv = load.TotalKvBlocks <= 0 ? 0 : ((double)load.UsedKvBlocks + load.WaitingKvBlocks) / load.TotalKvBlocks;
        var batch = (double)(load.RunningRequests + load.WaitingRequests) / Config.BatchCapacity;
        return Math.Max(kv, batch);
    }
}
