namespace ControlPlane.Transfer;

/// <summary>
/// What a running request needs, beyond its spec and its KV blocks, to continue on another engine exactly
/// where it stopped: the tokens it produced, how far its keys and values are computed, and the position of
/// its seeded random stream. Stop-string state is rebuilt from the output tokens, which determine it.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.ResumeState")]
public sealed record ResumeState
{
    [Id(0)] public required IReadOnlyList<int> OutputTokenIds { get; init; }

    /// <summary>Tokens whose keys and values the blocks hold (every token but the newest, while decoding).</summary>
    [Id(1)] public required int ComputedTokens { get; init; }
    [Id(2)] public int CachedPromptTokens { get; init; }
    [Id(3)] public required ulong RandomSeed { get; init; }

    /// <summary>Draws taken from the random stream so far; the next draw continues from here.</summary>
    [Id(4)] public required long RandomDraws { get; init; }

    /// <summary>The sequence number of the request's next output (token chunk), so a stream goes on unbroken.</summary>
    [Id(5)] public required int NextOutputSequence { get; init; }
}
