namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>The limits a step is planned within.</summary>
public sealed record SchedulerOptions
{
    public int KvBlockSize { get; init; } = 16;

    /// <summary>Tokens one step may compute (decode tokens plus prefill chunks).</summary>
    public int MaxBatchedTokens { get; init; } = 2048;
    public int MaxRunningRequests { get; init; } = 256;
    public int MaxContextTokens { get; init; } = 4096;

    /// <summary>
    /// How far (in weighted tokens, <see cref="FairWaitingQueue"/>) a running request's tenant must be ahead of a
    /// waiting request's tenant of the same class, when that request finds no room, for the running one to give way
    /// (preempted by recompute, the newest of that tenant's); also the most credit a tenant returning from idle
    /// starts with. 0 turns preemption off: fairness then orders admission only.
    /// </summary>
    public double FairnessPreemptMargin { get; init; } = 1024;
}
