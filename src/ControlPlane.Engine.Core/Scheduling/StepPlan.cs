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
            {
                PrefillTokens += c.Count;
                AttentionPairs += c.Count * (c.Start + c.Count / 2.0);
            }
            ContextTokens += c.Start + c.Count;
        }
    }

    public IReadOnlyList<ScheduledChunk> Chunks { get; }
    public int PrefillTokens { get; }
    public int DecodeSequences { get; }

    /// <summary>Pairs of (prefill token, earlier position it attends to): what a long prefill's attention costs.</summary>
    public double AttentionPairs { get; }

    /// <summary>Blocks brought back from the host tier while this step was planned (their copy is part of its cost).</summary>
    public int LoadedBlocks { get; init; }

    /// <summary>Context tokens the step's attention reads: every chunk's tokens up to its end.</summary>
    public long ContextTokens { get; }
}
