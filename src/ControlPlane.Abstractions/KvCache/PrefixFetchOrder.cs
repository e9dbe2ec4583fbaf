namespace ControlPlane.KvCache;

/// <summary>
/// An order to the instance a request was sent to: before it prefills, fetch the prompt's blocks <see cref="FirstBlock"/>
/// to <see cref="FirstBlock"/> + <see cref="BlockCount"/> from <see cref="SourceInstanceId"/> over the KV data path
/// (the dispatcher found them faster to fetch than to compute). A fetch that fails costs only the recompute.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.PrefixFetchOrder")]
public sealed record PrefixFetchOrder(
    [property: Id(0)] string SourceInstanceId,
    [property: Id(1)] int FirstBlock,
    [property: Id(2)] int BlockCount);
