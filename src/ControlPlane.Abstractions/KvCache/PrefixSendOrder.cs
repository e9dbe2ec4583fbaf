namespace ControlPlane.KvCache;

/// <summary>
/// What an instance asks a peer for when it fetches a prefix: the prompt's tokens up to the blocks it wants (the peer
/// names them with its own hasher), which blocks, and where to stream them (the asker's KV endpoint). The part comes
/// back as <see cref="FetchId"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.PrefixSendOrder")]
public sealed record PrefixSendOrder(
    [property: Id(0)] string FetchId,
    [property: Id(1)] IReadOnlyList<int> TokenIds,
    [property: Id(2)] int FirstBlock,
    [property: Id(3)] int BlockCount,
    [property: Id(4)] string Host,
    [property: Id(5)] int Port)
{
    /// <summary>The fetching worker's host (<see cref="Transfer.KvHost.BootId"/>): blocks go device to device only to a worker of the sender's host.</summary>
    [Id(6)] public string HostId { get; init; } = "";
}
