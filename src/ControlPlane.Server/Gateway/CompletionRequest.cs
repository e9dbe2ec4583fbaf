using ControlPlane.Models.Chat;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>A parsed and checked completion or chat request; the prompt is text or token ids, never both.</summary>
public sealed record CompletionRequest
{
    public required CompletionKind Kind { get; init; }
    public required string Model { get; init; }
    public string? PromptText { get; init; }
    public IReadOnlyList<int>? PromptTokenIds { get; init; }
    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }

    /// <summary><c>max_tokens</c> or <c>max_completion_tokens</c> as given; null means "what the context leaves".</summary>
    public int? MaxTokens { get; init; }
    public string MaxTokensParam { get; init; } = "max_tokens";
    public required SamplingParameters Sampling { get; init; }
    /// <summary>The class the request asks for (<c>service_tier</c>); null when it names none.</summary>
    public ServiceClass? ServiceClass { get; init; }
    public int Priority { get; init; }

    /// <summary>The request field that holds the prompt, for errors about it.</summary>
    public string PromptParam => Kind == CompletionKind.Chat ? "messages" : "prompt";
}
