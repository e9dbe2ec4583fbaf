using ControlPlane.Requests;

namespace ControlPlane.Engines;

/// <summary>What one engine step produced for one request.</summary>
public sealed record RequestOutput
{
    public required string RequestId { get; init; }
    public required IReadOnlyList<int> NewTokenIds { get; init; }

    /// <summary>The text the new tokens add (stop strings already cut off).</summary>
    public required string TextDelta { get; init; }
    public FinishReason FinishReason { get; init; }
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int CachedPromptTokens { get; init; }

    /// <summary>Of <see cref="CachedPromptTokens"/>, those brought back from the engine's host-memory tier.</summary>
    public int HostCachedPromptTokens { get; init; }

    /// <summary>GPU energy attributed to the request so far (J); null where the engine knows no draw.</summary>
    public double? EnergyJoules { get; init; }

    /// <summary>This output's number among the request's outputs (0 first); it goes on across an export and import.</summary>
    public int Sequence { get; init; }

    public bool Finished => FinishReason != FinishReason.None;
}
