namespace ControlPlane.Instances;

/// <summary>
/// Where a dispatcher sent a request (the instance it decodes on), or why it could not; and where its prompt runs first
/// when disaggregation splits it (<see cref="PrefillInstanceId"/>, null: where it decodes).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.DispatchDecision")]
public sealed record DispatchDecision(
    [property: Id(0)] string? InstanceId,
    [property: Id(1)] DispatchRefusal Refusal,
    [property: Id(2)] string? PrefillInstanceId = null)
{
    /// <summary>For a refusal because of queues (<see cref="DispatchRefusal.Overloaded"/>, <see cref="DispatchRefusal.SloMiss"/>): when a retry may fit, from the queues.</summary>
    [Id(3)] public TimeSpan? RetryAfter { get; init; }

    /// <summary>The prefix blocks the chosen instance should fetch from a peer first; null: none.</summary>
    [Id(4)] public KvCache.PrefixFetchOrder? PrefixFetch { get; init; }

    /// <summary>The dispatch policy that decided, by name (<c>custom</c>: a configured profile).</summary>
    [Id(5)] public string Policy { get; init; } = "";

    public static DispatchDecision To(string instanceId, string? prefillInstanceId = null) => new(instanceId, DispatchRefusal.None, prefillInstanceId);

    public static DispatchDecision Refused(DispatchRefusal refusal, TimeSpan? retryAfter = null) => new(null, refusal) { RetryAfter = retryAfter };
}
