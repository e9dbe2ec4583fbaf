using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Cluster;

/// <summary>A simulated cluster: how many instances of which profile, dispatched by which policy.</summary>
public sealed record ClusterSimulationConfig
{
    public required int Instances { get; init; }
    public required PerformanceProfile Profile { get; init; }
    public DispatchConfig Dispatch { get; init; } = new();
    public int Seed { get; init; } = 1;

    /// <summary>How often instances report load and the dispatcher refreshes its view, as in the control plane.</summary>
    public double LoadReportPeriodMs { get; init; } = 100;

    /// <summary>Tokens per named prefix block in the trace (Mooncake's <c>hash_ids</c> name 512-token blocks).</summary>
    public int TraceBlockTokens { get; init; } = 512;

    /// <summary>A power domain over all instances (the profile needs a power model); null: power is not simulated.</summary>
    public PowerSimulationConfig? Power { get; init; }

    /// <summary>Live migration planned on a period and modelled on the data path's costs; null: no migration.</summary>
    public MigrationSimulationConfig? Migration { get; init; }

    /// <summary>Prefill/decode disaggregation (pools by role, the decider, the handoff, maybe the pool balancer); null: every instance mixed.</summary>
    public DisaggregationSimulationConfig? Disaggregation { get; init; }

    /// <summary>The distributed KV cache: a prefix index for dispatch, host tiers, peer fetch; null: each engine's own GPU cache only.</summary>
    public KvCacheSimulationConfig? KvCache { get; init; }

    /// <summary>Instances added and removed by the autoscaling planner (<see cref="Instances"/> is then the most there can be); null: a fixed pool.</summary>
    public AutoscaleSimulationConfig? Autoscale { get; init; }
}
