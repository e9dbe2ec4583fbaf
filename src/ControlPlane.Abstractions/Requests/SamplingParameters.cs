namespace ControlPlane.Requests;

/// <summary>How an engine picks each next token and when it stops.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.SamplingParameters")]
public sealed record SamplingParameters
{
    [Id(0)] public int MaxTokens { get; init; } = 16;
    [Id(1)] public float Temperature { get; init; } = 1f;
    [Id(2)] public float TopP { get; init; } = 1f;
    [Id(3)] public int TopK { get; init; }
    [Id(4)] public long? Seed { get; init; }
    [Id(5)] public IReadOnlyList<string> StopStrings { get; init; } = [];
    [Id(6)] public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    [Id(7)] public bool IgnoreEndOfSequence { get; init; }
}
