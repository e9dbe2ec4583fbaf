namespace ControlPlane.Tokens;

/// <summary>
/// A request now runs on another instance (a migration, or a prefill instance's handoff to its decode instance,
/// committed): where to send its cancel, which silo to watch.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestMove")]
public sealed record RequestMove(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string InstanceId,
    [property: Id(2)] string Silo,
    [property: Id(3)] bool Handoff = false);
