namespace ControlPlane.Requests;

/// <summary>Token counts of a request, as reported in OpenAI's <c>usage</c>.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestUsage")]
public sealed record RequestUsage(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens,
    [property: Id(2)] int CachedPromptTokens)
{
    /// <summary>GPU energy attributed to the request (J): each engine step's energy shared by the tokens it computed; null when unknown.</summary>
    [Id(3)] public double? EnergyJoules { get; init; }
}
