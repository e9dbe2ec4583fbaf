namespace ControlPlane.Requests;

/// <summary>A request moving to another phase, with what the new phase needs to record.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestTransition")]
public sealed record RequestTransition
{
    [Id(0)] public required RequestPhase To { get; init; }
    [Id(1)] public required DateTimeOffset At { get; init; }

    /// <summary>The instance the request now runs on (prefilling, decoding, after a transfer or migration).</summary>
    [Id(2)] public string? InstanceId { get; init; }
    [Id(3)] public RequestUsage? Usage { get; init; }
    [Id(4)] public FinishReason FinishReason { get; init; }
    [Id(5)] public string? Error { get; init; }
}
