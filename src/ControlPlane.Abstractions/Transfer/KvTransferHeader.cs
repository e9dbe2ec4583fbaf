namespace ControlPlane.Transfer;

/// <summary>
/// The header of one part of a request's KV blocks: what the blocks hold and how they are laid out, so that
/// the importer can check it is the same model and layout before taking <see cref="PayloadBytes"/> of block
/// data. A part carries only what the receiver lacks: the token ids its blocks cover (the receiver has the
/// prompt, but not the output), and, in the part that completes the request, its <see cref="Resume"/> state.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.KvTransferHeader")]
public sealed record KvTransferHeader
{
    [Id(0)] public required string RequestId { get; init; }
    [Id(1)] public required string Model { get; init; }

    /// <summary>The layout of block data, e.g. <c>paged/l32/kvh8/d128/layer-major,k-then-v</c>; equal on both ends.</summary>
    [Id(2)] public required string Layout { get; init; }
    [Id(3)] public required string DType { get; init; }
    [Id(4)] public required int KvBlockSize { get; init; }
    [Id(5)] public required int FirstBlock { get; init; }
    [Id(6)] public required int BlockCount { get; init; }

    /// <summary>The token ids whose keys and values these blocks hold, from block <see cref="FirstBlock"/> on.</summary>
    [Id(7)] public required IReadOnlyList<int> TokenIds { get; init; }

    /// <summary>Present in the part that ends at the request's last computed block: the importer may resume it.</summary>
    [Id(8)] public ResumeState? Resume { get; init; }
    [Id(9)] public required long PayloadBytes { get; init; }

    /// <summary>
    /// Set in a part of prefix blocks fetched from a peer (no request owns them): the chained name of the block before
    /// <see cref="FirstBlock"/>, from which the importer names these blocks again out of <see cref="TokenIds"/>.
    /// </summary>
    [Id(10)] public ulong? PrefixParentHash { get; init; }
}
