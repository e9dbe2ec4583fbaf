namespace ControlPlane.Engines;

/// <summary>The outputs of one engine step and what the step was made of.</summary>
public sealed record EngineStepResult
{
    public static EngineStepResult Empty { get; } = new() { Outputs = [] };

    public required IReadOnlyList<RequestOutput> Outputs { get; init; }
    public int PrefillTokens { get; init; }
    public int DecodeSequences { get; init; }
    public TimeSpan Duration { get; init; }
}
