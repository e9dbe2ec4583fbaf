namespace ControlPlane.Instances;

/// <summary>The autoscaling planner's last decision for a model: desired replicas, the instances it saw, requests held at gateways.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.DesiredReplicas")]
public sealed record DesiredReplicas
{
    /// <summary>The pool that takes new requests (mixed, or decode where the model has no mixed instance); null while the planner is off or has not planned yet.</summary>
    [Id(0)] public int? Desired { get; init; }
    [Id(1)] public int Instances { get; init; }
    [Id(2)] public int Held { get; init; }
    [Id(3)] public DateTimeOffset At { get; init; }

    /// <summary>Desired replicas per pool (<c>mixed</c>, <c>prefill</c>, <c>decode</c>): each pool's instances are planned apart.</summary>
    [Id(4)] public IReadOnlyDictionary<string, int> Pools { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// The 90th percentiles of time to first token and time per output token the gateways observed over their last window
    /// (null with fewer than <c>AutoscalePlanner.MinLatencySamples</c> requests), and the objectives they are held to.
    /// </summary>
    [Id(5)] public double? TtftP90Ms { get; init; }
    [Id(6)] public double? TpotP90Ms { get; init; }
    [Id(7)] public double? SloTtftMs { get; init; }
    [Id(8)] public double? SloTpotMs { get; init; }
    [Id(9)] public long LatencySamples { get; init; }
}
