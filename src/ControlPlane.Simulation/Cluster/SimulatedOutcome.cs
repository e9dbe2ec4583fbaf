namespace ControlPlane.Simulation.Cluster;

/// <summary>What happened to one simulated request, in virtual milliseconds; <see cref="Error"/> is null on success.</summary>
public sealed record SimulatedOutcome(int Index, double ArrivalMs, double? FirstTokenMs, double EndMs, int InputTokens, int OutputTokens, string? Error, int Instance,
    int CachedTokens = 0);
