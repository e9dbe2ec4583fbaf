namespace ControlPlane.KvCache;

/// <summary>
/// What a dispatcher's replica needs to catch up with an index shard: the entries after the version it had, or, when it
/// had another <see cref="Generation"/> (the shard was activated anew) or fell behind the shard's log, the whole shard
/// (<see cref="Full"/>: forget what was known of this shard and apply these).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.KvIndexChanges")]
public sealed record KvIndexChanges(
    [property: Id(0)] Guid Generation,
    [property: Id(1)] long Version,
    [property: Id(2)] bool Full,
    [property: Id(3)] IReadOnlyList<KvIndexEntry> Entries);
