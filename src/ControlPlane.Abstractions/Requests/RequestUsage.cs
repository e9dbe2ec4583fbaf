namespace ControlPlane.Requests;

/// <summary>Token counts of a request, as reported in OpenAI's <c>usage</c>.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestUsage")]
public sealed record RequestUsage(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens,
    [property: Id(2)] int CachedPromptTokens);
