namespace ControlPlane.Operator.Reconciliation;

/// <summary>A power domain as the control plane's domain grain last saw it: its draw, how many instances it caps, its level, its brakes.</summary>
public sealed record LivePower(double DrawWatts, int CappedInstances, string Level, int Brakes);
