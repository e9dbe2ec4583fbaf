namespace ControlPlane.Requests;

/// <summary>A request grain's view of its request: phase, where it ran, what it produced.</summary>
[GenerateSerializer, Alias("ControlPlane.RequestStatus")]
public sealed record RequestStatus
{
    [Id(0)] public RequestPhase Phase { get; init; } = RequestPhase.Queued;
    [Id(1)] public string Model { get; init; } = "";
    [Id(2)] public ServiceClass ServiceClass { get; init; }
    [Id(3)] public int Priority { get; init; }
    [Id(4)] public IReadOnlyList<string> Instances { get; init; } = [];
    [Id(5)] public int PromptTokens { get; init; }
    [Id(6)] public int CompletionTokens { get; init; }
    [Id(7)] public FinishReason FinishReason { get; init; }
    [Id(8)] public string? Error { get; init; }
    [Id(9)] public DateTimeOffset ArrivedAt { get; init; }
    [Id(10)] public DateTimeOffset? FirstTokenAt { get; init; }
    [Id(11)] public DateTimeOffset? EndedAt { get; init; }
    [Id(12)] public IReadOnlyList<RequestPhase> History { get; init; } = [];

    /// <summary>The tenant that sent it: the only caller its status is shown to.</summary>
    [Id(13)] public string Tenant { get; init; } = "";
}
