namespace ControlPlane.KvCache;

/// <summary>
/// One instance's KV events for one index shard, numbered: <see cref="Epoch"/> is drawn once per engine lifetime and
/// <see cref="Sequence"/> counts the batches of that epoch, so a shard sees a lost batch or a restarted engine (and asks
/// for the instance's whole holdings instead of guessing).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.KvEventBatch")]
public sealed record KvEventBatch(
    [property: Id(0)] string InstanceId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long Sequence,
    [property: Id(3)] IReadOnlyList<KvEvent> Events);
