namespace ControlPlane.Requests;

/// <summary>A request as the control plane schedules it: tokenized prompt, sampling, class and priority.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestSpec")]
public sealed record RequestSpec
{
    [Id(0)] public required string RequestId { get; init; }
    [Id(1)] public required string Model { get; init; }
    [Id(2)] public required IReadOnlyList<int> PromptTokenIds { get; init; }
    [Id(3)] public required SamplingParameters Sampling { get; init; }
    [Id(4)] public ServiceClass ServiceClass { get; init; } = ServiceClass.Standard;

    /// <summary>Higher runs first within a class; 0 is the default.</summary>
    [Id(5)] public int Priority { get; init; }
    [Id(6)] public DateTimeOffset ArrivedAt { get; init; }

    /// <summary>The pod of the gateway that streams the request; its engines abort the request when that pod is gone.</summary>
    [Id(7)] public string Gateway { get; init; } = "";

    /// <summary>Set when the request resumes after its instance was lost: what it produced there.</summary>
    [Id(8)] public RequestProgress? Progress { get; init; }

    /// <summary>
    /// Set when disaggregation split the request: the decode instance its prefill instance hands it to once its prompt
    /// is computed and its first token sampled (its KV blocks go over as its prefill chunks complete).
    /// </summary>
    [Id(9)] public string? HandoffTo { get; init; }

    /// <summary>The tenant that sent the request (its API key's); requests of one class share an instance fairly by tenant.</summary>
    [Id(10)] public string Tenant { get; init; } = "";

    /// <summary>The tenant's weight in that fair share (twice the weight, twice the service when both wait).</summary>
    [Id(11)] public double TenantWeight { get; init; } = 1;

    /// <summary>Prefix blocks to fetch from a peer before the prompt is computed (the dispatcher's order); null: none.</summary>
    [Id(12)] public KvCache.PrefixFetchOrder? PrefixFetch { get; init; }
}
