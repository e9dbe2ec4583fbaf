namespace ControlPlane.Instances;

/// <summary>A model's instances and their loads at one moment, as the scheduler grain last heard them.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.LoadSnapshot")]
public sealed record LoadSnapshot(
    [property: Id(0)] long Version,
    [property: Id(1)] DateTimeOffset TakenAt,
    [property: Id(2)] IReadOnlyList<InstanceLoad> Instances)
{
    public static LoadSnapshot Empty { get; } = new(0, DateTimeOffset.MinValue, []);
}
