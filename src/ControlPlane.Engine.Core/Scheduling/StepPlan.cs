namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>What one step computes, in batch order: running requests first, then newly admitted ones.</summary>
public sealed class StepPlan
{
    public StepPlan(List<ScheduledChunk> chunks)
    {
        Chunks = chunks;
        foreach (var c in chunks)
        {
            if (c.IsDecode)
                DecodeSequences++;
            else
                PrefillTokens += c.Count;
            ContextTokens += c.Start + c.Count;
        }
    }

    public IReadOnlyList<ScheduledChunk> Chunks { get; }
    public int PrefillTokens { get; }
    public int DecodeSequences { get; }

    /// <summary>Context tokens the step's attention reads: every chunk's tokens up to its end.</summary>
    public long ContextTokens { get; }
}
