namespace ControlPlane.Instances;

/// <summary>Where a dispatcher sent a request, or why it could not.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.DispatchDecision")]
public sealed record DispatchDecision(
    [property: Id(0)] string? InstanceId,
    [property: Id(1)] DispatchRefusal Refusal)
{
    public static DispatchDecision To(string instanceId) => new(instanceId, DispatchRefusal.None);

    public static DispatchDecision Refused(DispatchRefusal refusal) => new(null, refusal);
}
