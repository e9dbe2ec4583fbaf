using ControlPlane.Scheduling.Disaggregation;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Prefill/decode disaggregation in the simulator: which instances start in the prefill role (the rest decode), the
/// decider and pool balancer the control plane runs, and the KV data path's costs. A split request prefills on its
/// prefill instance; the blocks each prefill step fills go to its decode instance at <see cref="BandwidthGBps"/> (one
/// link per prefill instance, parts in order) while the next steps run; after its first token the request stops there,
/// its last blocks follow with <see cref="CommitOverheadMs"/>, and it decodes on its decode instance from then on.
/// </summary>
public sealed record DisaggregationSimulationConfig
{
    /// <summary>Instances that start as prefill instances (the first ones); the rest start as decode instances.</summary>
    public int PrefillInstances { get; init; }

    public DisaggregationConfig Decider { get; init; } = new();

    /// <summary>KV data path bandwidth out of one prefill instance (measured: 1.52 GB/s between two processes on one H200).</summary>
    public double BandwidthGBps { get; init; } = 1.52;

    /// <summary>KV bytes per token (Llama-3-8B, bf16: 32 layers x 8 KV heads x 128 x 2 x 2 bytes).</summary>
    public double KvBytesPerToken { get; init; } = 131_072;

    /// <summary>Fixed cost of one part (an export between two steps, an answer).</summary>
    public double PartLatencyMs { get; init; } = 1;

    /// <summary>Fixed cost of the commit besides copying the last blocks (suspend, resume state, answer).</summary>
    public double CommitOverheadMs { get; init; } = 2;
}

/// <summary>What the simulated disaggregation did: requests split and handed off, handoffs sent to another decode instance after a refusal (redirected), those that fell back, role changes.</summary>
public sealed record DisaggregationReport(int Split, int HandedOff, int FellBack, IReadOnlyList<double> HandoffMs, int RoleChanges, long Bytes, int Redirected = 0);
