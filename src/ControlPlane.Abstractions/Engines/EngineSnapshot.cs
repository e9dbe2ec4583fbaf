namespace ControlPlane.Engines;

/// <summary>An engine's state between two steps.</summary>
public sealed record EngineSnapshot
{
    public int RunningRequests { get; init; }
    public int WaitingRequests { get; init; }
    public int UsedKvBlocks { get; init; }
    public int TotalKvBlocks { get; init; }

    /// <summary>Blocks the waiting requests' prompts will need.</summary>
    public int WaitingKvBlocks { get; init; }
    public long PreemptionCount { get; init; }

    /// <summary>Requests held of the batch class, and of the classes above it (what power-aware dispatch keeps apart).</summary>
    public int BatchRequests { get; init; }
    public int PriorityRequests { get; init; }

    /// <summary>Prompt tokens computed per second of step time, a moving average over steps that prefill (0 before the first).</summary>
    public double PrefillTokensPerSecond { get; init; }
}
