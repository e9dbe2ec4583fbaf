namespace ControlPlane.Simulation.Cluster;

/// <summary>What happened to one simulated request, in virtual milliseconds; <see cref="Error"/> is null on success.
/// Of <see cref="CachedTokens"/>, <see cref="HostCachedTokens"/> came back from host memory and <see cref="PeerFetchedTokens"/> from a peer.</summary>
public sealed record SimulatedOutcome(int Index, double ArrivalMs, double? FirstTokenMs, double EndMs, int InputTokens, int OutputTokens, string? Error, int Instance,
    int CachedTokens = 0, int HostCachedTokens = 0, int PeerFetchedTokens = 0);
