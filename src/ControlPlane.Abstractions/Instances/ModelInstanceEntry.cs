namespace ControlPlane.Instances;

/// <summary>
/// An instance of a model as the model directory lists it: which card it hands out (<see cref="ModelCard.Version"/>, empty
/// where it has none) and when that card was made, so that gateways take the newest configuration of a model mid-way
/// through a rolling change.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.ModelInstanceEntry")]
public sealed record ModelInstanceEntry(
    [property: Id(0)] string InstanceId,
    [property: Id(1)] string CardVersion,
    [property: Id(2)] DateTimeOffset CardCreated)
{
    /// <summary>The Kubernetes node the instance runs on (<see cref="InstanceDescriptor.Node"/>); empty when unknown.</summary>
    [Id(3)] public string Node { get; init; } = "";
}
