namespace ControlPlane.LoadGen.Replay;

/// <summary>What happened to one replayed request; times in milliseconds from the replay's start.</summary>
public sealed record RequestRecord
{
    public required int Index { get; init; }
    public required double ScheduledMs { get; init; }
    public required double SentMs { get; init; }
    public double? FirstTokenMs { get; init; }
    public double EndMs { get; init; }
    public int InputTokens { get; init; }
    public int OutputTokens { get; init; }
    public int ExpectedOutputTokens { get; init; }

    /// <summary>The priority class the request named (<c>priority_class</c>); null when it named none.</summary>
    public string? PriorityClass { get; init; }

    /// <summary>The GPU energy the server attributed to the request (its usage's <c>energy_joules</c>), when it reports one.</summary>
    public double? EnergyJoules { get; init; }

    /// <summary>Prompt tokens the server found in its prefix cache (<c>usage.prompt_tokens_details.cached_tokens</c>); null when not reported.</summary>
    public int? CachedTokens { get; init; }

    /// <summary>Gaps between successive streamed chunks after the first, in ms.</summary>
    public IReadOnlyList<double> InterTokenMs { get; init; } = [];

    /// <summary>Null on success; else the kind: <c>http_429</c>, <c>http_400</c>, <c>connection</c>, <c>timeout</c>, ...</summary>
    public string? Error { get; init; }

    public bool Succeeded => Error is null;
    public double SendLagMs => SentMs - ScheduledMs;
    public double? TimeToFirstTokenMs => FirstTokenMs - SentMs;
    public double EndToEndMs => EndMs - SentMs;

    /// <summary>Mean time per output token after the first.</summary>
    public double? TimePerOutputTokenMs => FirstTokenMs is { } first && OutputTokens > 1 ? (EndMs - first) / (OutputTokens - 1) : null;
}
