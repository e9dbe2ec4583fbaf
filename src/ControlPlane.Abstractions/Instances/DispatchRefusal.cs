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
}
