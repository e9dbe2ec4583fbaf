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

    /// <summary>
    /// The model's priority class the request names (<c>priority_class</c>), in place of <see cref="ServiceClass"/> and
    /// <see cref="Priority"/>; <see cref="WithClassOf"/> resolves it against the model.
    /// </summary>
    public string? PriorityClass { get; init; }

    /// <summary>Whether the request gave <c>service_tier</c> or <c>priority</c> itself (then no default class applies).</summary>
    public bool TierOrPriorityGiven { get; init; }

    /// <summary>Whether <see cref="PriorityClass"/> is the model's default, not named by the request (<see cref="WithDefaultClassOf"/>).</summary>
    public bool ImplicitClass { get; init; }

    /// <summary>
    /// The request with the model's default class when it names no class and gives neither <c>service_tier</c> nor
    /// <c>priority</c>; unchanged otherwise. Resolve with <see cref="WithClassOf"/> as a named one.
    /// </summary>
    public CompletionRequest WithDefaultClassOf(ControlPlane.Server.Models.ServedModel model) =>
        PriorityClass is null && !TierOrPriorityGiven && model.DefaultClass is { } c ? this with { PriorityClass = c.Name, ImplicitClass = true } : this;

    /// <summary>
    /// The request with its <see cref="PriorityClass"/> resolved against <paramref name="model"/>'s classes (its service
    /// class and priority set from it); unchanged when it names none; a name the model does not define is refused (400).
    /// </summary>
    public CompletionRequest WithClassOf(ControlPlane.Server.Models.ServedModel model)
    {
        if (PriorityClass is null)
            return this;
        if (!model.PriorityClasses.TryGetValue(PriorityClass, out var c))
        {
            var known = model.PriorityClasses.Count == 0 ? "it defines none"
                : "its classes: " + string.Join(", ", model.PriorityClasses.Keys.Order(StringComparer.Ordinal));
            throw new ApiErrorException(ApiError.Invalid("priority_class",
                $"Model '{model.Name}' has no priority class '{Fields.Quote(PriorityClass)}' ({known}).", "invalid_value"));
        }
        return this with { ServiceClass = c.ServiceClass, Priority = c.Priority };
    }

    /// <summary>The request field that holds the prompt, for errors about it.</summary>
    public string PromptParam => Kind == CompletionKind.Chat ? "messages" : "prompt";
}
