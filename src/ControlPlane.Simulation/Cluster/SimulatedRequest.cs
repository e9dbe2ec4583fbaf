namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// A request for the cluster simulator: when it arrives (ms) and how long its prompt and answer are.
/// <see cref="PrefixBlocks"/>, when a trace has them (Mooncake's <c>hash_ids</c>), name the prompt's blocks
/// of <see cref="ClusterSimulationConfig.TraceBlockTokens"/> tokens: equal ids are equal tokens, so requests
/// share prefixes as in the trace. Without them every prompt is its own.
/// </summary>
public sealed record SimulatedRequest(double ArrivalMs, int InputTokens, int OutputTokens, IReadOnlyList<int>? PrefixBlocks = null,
    Requests.ServiceClass Class = Requests.ServiceClass.Standard);
