namespace ControlPlane.Instances;

/// <summary>What a model's scheduler has under way: migrations in flight and role changes draining (for the status page).</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.SchedulerActivity")]
public sealed record SchedulerActivity
{
    /// <summary>Migrations in flight: source, destination, reason.</summary>
    [Id(0)] public IReadOnlyList<MovingRequest> Migrations { get; init; } = [];

    /// <summary>Instances draining before they change role: the instance and the role it goes to.</summary>
    [Id(1)] public IReadOnlyList<KeyValuePair<string, InstanceRole>> RoleChanges { get; init; } = [];
}

/// <summary>One migration in flight.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.MovingRequest")]
public sealed record MovingRequest([property: Id(0)] string Source, [property: Id(1)] string Destination, [property: Id(2)] string Reason, [property: Id(3)] DateTimeOffset Since);
