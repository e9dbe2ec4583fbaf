using ControlPlane.Scheduling.Power;

namespace ControlPlane.Simulation.Cluster;

/// <summary>One power domain over all simulated instances: its budget, and the controller that keeps it (none: measure only).</summary>
public sealed record PowerSimulationConfig
{
    public required double BudgetWatts { get; init; }

    /// <summary>The POLCA controller's settings; null runs uncapped and only measures draw against the budget.</summary>
    public PowerControllerConfig? Controller { get; init; } = new();

    /// <summary>How often draw is read and the controller decides, as the power-domain grain's loop does.</summary>
    public double PeriodMs { get; init; } = 1000;
}
