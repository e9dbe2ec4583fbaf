namespace ControlPlane.Requests;

/// <summary>
/// A named pair of service class and priority a model offers its callers (a ModelService's <c>priorityClasses</c>): a
/// request names it (<c>priority_class</c>) instead of giving <c>service_tier</c> and <c>priority</c> itself, so that
/// the classes a model's traffic comes in are the operator's to define, as Kubernetes' PriorityClasses are for pods.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.PriorityClass")]
public sealed record PriorityClass(
    [property: Id(0)] string Name,
    [property: Id(1)] ServiceClass ServiceClass,
    [property: Id(2)] int Priority)
{
    /// <summary>
    /// The model's default class (at most one, as Kubernetes' <c>globalDefault</c>): a request that names no class and
    /// gives neither <c>service_tier</c> nor <c>priority</c> gets it, where its tenant may use it.
    /// </summary>
    [Id(3)] public bool IsDefault { get; init; }

    /// <summary>The most classes a model may define (the CRD's <c>maxItems</c>).</summary>
    public const int MaxPerModel = 16;

    /// <summary>The priority range a class may set (the CRD's).</summary>
    public const int MinPriority = -1000, MaxPriority = 1000;

    /// <summary>The configuration's and the CRD's name of a service class: interactive, standard or batch; null if none.</summary>
    public static ServiceClass? ParseServiceClass(string? name) => name?.ToLowerInvariant() switch
    {
        "interactive" => ServiceClass.Interactive,
        "standard" => ServiceClass.Standard,
        "batch" => ServiceClass.Batch,
        _ => null,
    };
}
