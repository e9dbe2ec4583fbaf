namespace ControlPlane.Engines;

/// <summary>What an engine serves and how big it is.</summary>
public sealed record EngineDescriptor
{
    public required string Model { get; init; }

    /// <summary>The backend's name: <c>simulated</c>, <c>torchsharp</c>.</summary>
    public required string Backend { get; init; }
    public required int KvBlockSize { get; init; }
    public required int TotalKvBlocks { get; init; }
    public required int MaxContextTokens { get; init; }

    /// <summary>Bytes of one KV block's keys and values (what a transfer of it moves); 0 for a backend that moves none.</summary>
    public long KvBytesPerBlock { get; init; }
}
