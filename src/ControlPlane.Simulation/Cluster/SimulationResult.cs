namespace ControlPlane.Simulation.Cluster;

/// <summary>A simulation's outcomes and what it cost to compute.</summary>
public sealed record SimulationResult(IReadOnlyList<SimulatedOutcome> Outcomes, double VirtualMs, TimeSpan WallTime, long Steps, long Preemptions)
{
    /// <summary>Virtual time over wall time: 100 means an hour of trace in 36 seconds.</summary>
    public double Speed => VirtualMs / Math.Max(WallTime.TotalMilliseconds, 1e-6);
}
