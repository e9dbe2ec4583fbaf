using ControlPlane.KvCache;

namespace ControlPlane.Engines;

/// <summary>The outputs of one engine step, what the step was made of, and the KV block changes since the last step.</summary>
public sealed record EngineStepResult
{
    public static EngineStepResult Empty { get; } = new() { Outputs = [] };

    public required IReadOnlyList<RequestOutput> Outputs { get; init; }
    public int PrefillTokens { get; init; }
    public int DecodeSequences { get; init; }
    public TimeSpan Duration { get; init; }

    /// <summary>Blocks stored and removed since the previous step, in order: one batch a step for a prefix index.</summary>
    public IReadOnlyList<KvEvent> KvEvents { get; init; } = [];
}
