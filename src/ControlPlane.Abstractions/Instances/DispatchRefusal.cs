namespace ControlPlane.Instances;

/// <summary>Why a request found no instance.</summary>
[GenerateSerializer]
public enum DispatchRefusal
{
    None,

    /// <summary>The model has no ready instance.</summary>
    NoInstances,

    /// <summary>Every instance is at its queue limit: the client should retry later (429).</summary>
    Overloaded,

    /// <summary>No instance can ever hold the request (prompt plus output exceed every instance's KV capacity).</summary>
    TooLarge,

    /// <summary>
    /// Every instance's queue would make the request's first token later than its class's target (SLO admission):
    /// refused at once (429, <c>Retry-After</c> from the queue) rather than queued for longer than the target.
    /// </summary>
    SloMiss,
}
