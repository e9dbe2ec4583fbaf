namespace ControlPlane.Engines;

/// <summary>
/// The header of a KV block stream: what the blocks hold and how they are laid out, so that the importer
/// can check it is the same model and layout before reading <see cref="PayloadBytes"/> of block data.
/// </summary>
public sealed record KvTransferHeader
{
    public required string RequestId { get; init; }
    public required string Model { get; init; }

    /// <summary>The layout of block data, e.g. <c>layer-major/k,v/block/head/token/dim</c>; equal on both ends.</summary>
    public required string Layout { get; init; }
    public required string DType { get; init; }
    public required int KvBlockSize { get; init; }

    /// <summary>All tokens of the request so far (prompt then output); blocks hold their keys and values.</summary>
    public required IReadOnlyList<int> TokenIds { get; init; }

    /// <summary>How many of <see cref="TokenIds"/> are prompt tokens.</summary>
    public required int PromptTokenCount { get; init; }
    public required int FirstBlock { get; init; }
    public required int BlockCount { get; init; }

    /// <summary>True when this range ends at the request's last block: the importer may resume it.</summary>
    public required bool Completes { get; init; }
    public required long PayloadBytes { get; init; }
}
