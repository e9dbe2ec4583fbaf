namespace ControlPlane.KvCache;

/// <summary>
/// A change to the set of KV blocks an engine holds, named by the block's chained hash: what a cluster-wide
/// prefix index needs to know which instance holds which prefix, and in which tier. <see cref="ParentHash"/> is the
/// hash of the block before it (the hasher's seed for a first block), so an index can rebuild chains. A block that
/// moves from GPU to host memory is two events: stored in the host tier, removed from the GPU tier.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.KvEvent")]
public readonly record struct KvEvent(
    [property: Id(0)] KvEventKind Kind,
    [property: Id(1)] ulong BlockHash,
    [property: Id(2)] ulong ParentHash,
    [property: Id(3)] KvTier Tier = KvTier.Gpu);
