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
}
