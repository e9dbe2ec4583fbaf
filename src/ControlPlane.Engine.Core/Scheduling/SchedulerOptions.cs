namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>The limits a step is planned within.</summary>
public sealed record SchedulerOptions
{
    public int KvBlockSize { get; init; } = 16;

    /// <summary>Tokens one step may compute (decode tokens plus prefill chunks).</summary>
    public int MaxBatchedTokens { get; init; } = 2048;
    public int MaxRunningRequests { get; init; } = 256;
    public int MaxContextTokens { get; init; } = 4096;
}
