namespace ControlPlane.Tokens;

/// <summary>All chunks of one engine step bound for one gateway: the token path's unit of delivery.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.TokenBatch")]
public sealed record TokenBatch(
    [property: Id(0)] string InstanceId,
    [property: Id(1)] IReadOnlyList<TokenChunk> Chunks);
