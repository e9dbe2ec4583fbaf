using ControlPlane.Requests;

namespace ControlPlane.Tokens;

/// <summary>
/// The tokens one engine step produced for one request. <see cref="Sequence"/> counts chunks from 0 per
/// request, so a receiver drops a chunk it has already seen (after a migration or a retry).
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.TokenChunk")]
public sealed record TokenChunk
{
    [Id(0)] public required string RequestId { get; init; }
    [Id(1)] public required int Sequence { get; init; }
    [Id(2)] public required int[] TokenIds { get; init; }
    [Id(3)] public required string Text { get; init; }
    [Id(4)] public FinishReason FinishReason { get; init; }

    /// <summary>Set on the last chunk.</summary>
    [Id(5)] public RequestUsage? Usage { get; init; }

    /// <summary>Set on the last chunk: from the engine taking the request to its last token.</summary>
    [Id(6)] public TimeSpan EngineTime { get; init; }
    [Id(7)] public string? Error { get; init; }
}
