namespace ControlPlane.Operator.Reconciliation;

/// <summary>A power domain as the control plane's domain grain last saw it: its draw, how many instances it caps, its level, its brakes.</summary>
public sealed record LivePower(double DrawWatts, int CappedInstances, string Level, int Brakes)
{
    /// <summary>The engine instances the domain's loop found on its nodes (0 on nodes with GPUs: workers that do not say their node).</summary>
    public int? Instances { get; init; }
}
