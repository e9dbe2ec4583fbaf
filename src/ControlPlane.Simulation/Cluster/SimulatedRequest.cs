namespace ControlPlane.Simulation.Cluster;

/// <summary>A request for the cluster simulator: when it arrives (ms) and how long its prompt and answer are.</summary>
public sealed record SimulatedRequest(double ArrivalMs, int InputTokens, int OutputTokens);
