namespace ControlPlane.Instances;

/// <summary>One instance's load at a moment: what dispatch and migration policies read.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.InstanceLoad")]
public sealed record InstanceLoad
{
    [Id(0)] public required string InstanceId { get; init; }
    [Id(1)] public InstanceRole Role { get; init; }
    [Id(2)] public InstanceHealth Health { get; init; } = InstanceHealth.Ready;
    [Id(3)] public int RunningRequests { get; init; }
    [Id(4)] public int WaitingRequests { get; init; }
    [Id(5)] public int UsedKvBlocks { get; init; }
    [Id(6)] public int TotalKvBlocks { get; init; }

    /// <summary>KV blocks that the waiting requests will need once admitted (queued demand).</summary>
    [Id(7)] public int WaitingKvBlocks { get; init; }
    [Id(8)] public DateTimeOffset ReportedAt { get; init; }
    [Id(9)] public int KvBlockSize { get; init; } = 16;

    /// <summary>Requests held (running or waiting) of the batch class, and of the classes above it.</summary>
    [Id(10)] public int BatchRequests { get; init; }
    [Id(11)] public int PriorityRequests { get; init; }

    /// <summary>The GPU's mean draw since the last report, its limit and the cap in force (W); 0 and null where power is not known.</summary>
    [Id(12)] public double DrawWatts { get; init; }
    [Id(13)] public double MaxWatts { get; init; }
    [Id(14)] public double? PowerCapWatts { get; init; }

    /// <summary>
    /// When the engine's state was read: every admission accepted before it is counted in. <see cref="ReportedAt"/>
    /// is restamped by each periodic report (the state is still true then); this one is not. Default: same as reported.
    /// </summary>
    [Id(15)] public DateTimeOffset MeasuredAt { get; init; }

    /// <summary>
    /// Prompt tokens the instance computes per second of step time (a moving average over steps that prefill; 0 before
    /// the first): with <see cref="WaitingKvBlocks"/>, how long a new prompt would wait for its first token.
    /// </summary>
    [Id(16)] public double PrefillTokensPerSecond { get; init; }

    /// <summary>Bytes of one KV block (what fetching it from a peer moves); 0 where the engine moves no bytes.</summary>
    [Id(17)] public long KvBytesPerBlock { get; init; }

    /// <summary>
    /// The time a new request of <paramref name="promptTokens"/> would wait here for its first token: the waiting
    /// prompts and its own at the measured prefill rate; null while no rate is measured.
    /// </summary>
    public TimeSpan? PredictedTtft(int promptTokens) => PrefillTokensPerSecond > 0
        ? TimeSpan.FromSeconds(((double)WaitingKvBlocks * KvBlockSize + promptTokens) / PrefillTokensPerSecond)
        : null;

    public double KvUsage => TotalKvBlocks == 0 ? 1 : (double)UsedKvBlocks / TotalKvBlocks;
}
