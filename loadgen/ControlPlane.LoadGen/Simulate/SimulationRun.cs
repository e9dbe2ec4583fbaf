using ControlPlane.LoadGen.Replay;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen.Simulate;

/// <summary>Runs the cluster simulator on a trace and turns its outcomes into the replay report's records.</summary>
public static class SimulationRun
{
    public static (IReadOnlyList<RequestRecord> Records, SimulationResult Result) Run(
        IReadOnlyList<TraceRequest> trace, int instances, PerformanceProfile profile, DispatchConfig dispatch, int seed, MigrationSimulationConfig? migration = null,
        DisaggregationSimulationConfig? disaggregation = null, AutoscaleSimulationConfig? autoscale = null, KvCacheSimulationConfig? kvCache = null)
    {
        var simulator = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = instances, Profile = profile, Dispatch = dispatch, Seed = seed, TraceBlockTokens = MooncakeTraceReader.HashBlockTokens,
            Migration = migration, Disaggregation = disaggregation, Autoscale = autoscale, KvCache = kvCache,
        });
        var result = simulator.Run([.. trace.Select(r => new SimulatedRequest(r.ArrivalMs, r.InputTokens, Math.Max(1, r.OutputTokens), r.HashIds))]);
        var records = result.Outcomes.Select(o => new RequestRecord
        {
            Index = o.Index,
            ScheduledMs = o.ArrivalMs,
            SentMs = o.ArrivalMs,
            FirstTokenMs = o.FirstTokenMs,
            EndMs = o.EndMs,
            InputTokens = o.InputTokens,
            OutputTokens = o.OutputTokens,
            ExpectedOutputTokens = trace[o.Index].OutputTokens,
            Error = o.Error,
            CachedTokens = o.Error is null ? o.CachedTokens : null,
        }).ToArray();
        return (records, result);
    }

    /// <summary>
    /// The saturated throughput of a cluster on this trace's lengths: every request queued at once, the
    /// completion rate between the 10th and 90th percentile of completions (leaving out fill and drain).
    /// </summary>
    public static double Capacity(IReadOnlyList<TraceRequest> trace, int instances, PerformanceProfile profile, int seed, int sample = 6000)
    {
        var burst = trace.Take(sample).Select(r => r with { ArrivalMs = 0 }).ToArray();
        var (records, _) = Run(burst, instances, profile, new DispatchConfig { Policy = "least-request", QueueLimit = int.MaxValue }, seed);
        var ends = records.Where(r => r.Succeeded).Select(r => r.EndMs).Order().ToArray();
        var lo = ends[(int)(ends.Length * 0.1)];
        var hi = ends[(int)(ends.Length * 0.9)];
        return (ends.Length * 0.8) / ((hi - lo) / 1000);
    }
}
