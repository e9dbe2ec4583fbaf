namespace ControlPlane.Transfer;

/// <summary>How one migration ended: committed on the destination, or why it stayed on the source.</summary>
[GenerateSerializer]
public enum MigrationOutcome
{
    /// <summary>The request runs on the destination and left the source.</summary>
    Committed,

    /// <summary>The source holds no request it may move now (none decoding, all moved recently).</summary>
    NoCandidate,

    /// <summary>The destination said no (full, not ready, not this model) or refused a part.</summary>
    Refused,

    /// <summary>A transfer failed, or the destination died or timed out: the request went on at the source.</summary>
    Failed,

    /// <summary>The request ended (finished, cancelled or preempted) before the commit: nothing moved.</summary>
    Ended,
}

/// <summary>What a migration did, for metrics and the scheduler.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.MigrationResult")]
public sealed record MigrationResult
{
    [Id(0)] public required MigrationOutcome Outcome { get; init; }
    [Id(1)] public string? RequestId { get; init; }
    [Id(2)] public long Bytes { get; init; }
    [Id(3)] public int Blocks { get; init; }
    [Id(4)] public int Stages { get; init; }

    /// <summary>From the suspend on the source to the commit's answer (the request takes no step meanwhile).</summary>
    [Id(5)] public TimeSpan Stop { get; init; }
    [Id(6)] public TimeSpan Duration { get; init; }
    [Id(7)] public string? Error { get; init; }

    public static MigrationResult Nothing { get; } = new() { Outcome = MigrationOutcome.NoCandidate };
}
