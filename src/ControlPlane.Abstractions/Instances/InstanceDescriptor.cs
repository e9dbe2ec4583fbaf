namespace ControlPlane.Instances;

/// <summary>What an instance is: its id, model, role and capacity. Changes only when the instance is re-registered.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.InstanceDescriptor")]
public sealed record InstanceDescriptor
{
    [Id(0)] public required string InstanceId { get; init; }
    [Id(1)] public required string Model { get; init; }
    [Id(2)] public InstanceRole Role { get; init; } = InstanceRole.Mixed;
    [Id(3)] public int TotalKvBlocks { get; init; }
    [Id(4)] public int KvBlockSize { get; init; }
    [Id(5)] public int MaxContextTokens { get; init; }
    [Id(6)] public string Engine { get; init; } = "";

    /// <summary>The pod (silo name) that runs the engine; the instance grain is placed there.</summary>
    [Id(7)] public string Host { get; init; } = "";

    /// <summary>
    /// Whether the scheduler may live-migrate the model's requests (balance and drains), as the model's configuration says
    /// (a ModelService's <c>migration.enabled</c>); null: the scheduler silo's <c>ControlPlane:Migration:Enabled</c>.
    /// </summary>
    [Id(8)] public bool? Migration { get; init; }

    /// <summary>
    /// The Kubernetes node the engine's pod runs on (<c>ControlPlane:Cluster:NodeName</c>, else <c>NODE_NAME</c>, which the
    /// operator sets from the pod's <c>spec.nodeName</c>); empty when unknown. Power domains made of nodes (PowerBudgets) find
    /// their instances by it.
    /// </summary>
    [Id(9)] public string Node { get; init; } = "";
}
