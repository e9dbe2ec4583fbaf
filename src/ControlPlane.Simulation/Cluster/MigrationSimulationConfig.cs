using ControlPlane.Scheduling.Migration;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Live migration in the simulator: the planner the scheduler grain runs, and the data path's costs. A stage copies
/// the request's full blocks written so far at <see cref="BandwidthGBps"/> while it keeps decoding; the stop copies
/// the rest, plus <see cref="StopOverheadMs"/> (suspend, resume state, commit), during which it takes no step.
/// </summary>
public sealed record MigrationSimulationConfig
{
    public MigrationConfig Planner { get; init; } = new();

    /// <summary>KV data path bandwidth between instances (measured: 1.52 GB/s between two processes on one H200).</summary>
    public double BandwidthGBps { get; init; } = 1.52;

    /// <summary>KV bytes per token (Llama-3-8B, bf16: 32 layers x 8 KV heads x 128 x 2 x 2 bytes).</summary>
    public double KvBytesPerToken { get; init; } = 131_072;

    /// <summary>Fixed cost of one stage (an export between two steps, an answer).</summary>
    public double StageLatencyMs { get; init; } = 1;

    /// <summary>Fixed cost of the stop besides copying its blocks.</summary>
    public double StopOverheadMs { get; init; } = 2;
}

/// <summary>What the simulated migrations did.</summary>
public sealed record MigrationReport(IReadOnlyDictionary<string, int> ByReasonAndOutcome, IReadOnlyList<double> StopMs, long Bytes)
{
    public int Committed => ByReasonAndOutcome.Where(kv => kv.Key.EndsWith("/committed", StringComparison.Ordinal)).Sum(kv => kv.Value);
}
