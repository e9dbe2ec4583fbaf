namespace ControlPlane.KvCache;

/// <summary>
/// A change to a shard of the prefix index as a replica applies it: an instance's events, or with <see cref="Replace"/>
/// its whole holdings in the shard (after a resync; empty when the instance is gone).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.KvIndexEntry")]
public sealed record KvIndexEntry(
    [property: Id(0)] string InstanceId,
    [property: Id(1)] bool Replace,
    [property: Id(2)] IReadOnlyList<KvEvent> Events);
