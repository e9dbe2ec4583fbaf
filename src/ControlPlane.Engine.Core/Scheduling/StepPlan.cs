namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>What one step computes, in batch order: running requests first, then newly admitted ones.</summary>
public sealed class StepPlan(IReadOnlyList<ScheduledChunk> chunks)
{
    public IReadOnlyList<ScheduledChunk> Chunks { get; } = chunks;
    public int PrefillTokens { get; } = chunks.Sum(c => c.IsDecode ? 0 : c.Count);
    public int DecodeSequences { get; } = chunks.Count(c => c.IsDecode);

    /// <summary>Context tokens the step's attention reads: every chunk's tokens up to its end.</summary>
    public long ContextTokens { get; } = chunks.Sum(c => (long)c.Start + c.Count);
}
