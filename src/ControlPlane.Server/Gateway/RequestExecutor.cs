using ControlPlane.Models.Chat;
using System.Security.Cryptography;
using ControlPlane.Grains;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Metrics;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Turns a checked request into a running one: tokenizes it, checks it against the model's context,
/// asks the local dispatcher for an instance and has that instance admit it, trying another instance
/// when one refuses. Errors come out as <see cref="ApiErrorException"/> with the status the client gets.
/// </summary>
public sealed class RequestExecutor(
    IGrainFactory grains, TokenRouter router, ModelCatalog catalog, ControlPlaneConfig config,
    GatewayMetrics metrics, TimeProvider time, ILogger<RequestExecutor> logger)
{
    public async Task<RunningRequest> StartAsync(CompletionRequest request, CancellationToken cancellationToken)
    {
        var arrivedAt = time.GetTimestamp();
        if (!catalog.TryGet(request.Model, out var model))
            throw new ApiErrorException(ApiError.ModelNotFound(request.Model));
        var spec = BuildSpec(request, model);
        if (metrics.EnterRequest() > config.Gateway.MaxInFlightRequests)
        {
            metrics.LeaveRequest();
            metrics.Outcome(model.Name, "overloaded");
            throw new ApiErrorException(ApiError.Overloaded($"This gateway is serving {config.Gateway.MaxInFlightRequests} requests; retry later."));
        }

        var stream = router.Open(spec.RequestId);
        try
        {
            var dispatcher = grains.GetGrain<IDispatcherGrain>(model.Name);
            var refused = new List<string>();
            for (var attempt = 0; attempt < config.Gateway.DispatchAttempts; attempt++)
            {
                var decision = await dispatcher.DispatchAsync(spec, refused, cancellationToken);
                if (decision.InstanceId is null)
                    throw new ApiErrorException(Refusal(decision.Refusal, model, request));
                var admit = await grains.GetGrain<IInstanceGrain>(decision.InstanceId).AdmitAsync(spec, router.Reference, cancellationToken);
                if (admit.Accepted)
                {
                    // The request grain learns of the request once it runs somewhere: refused requests cost no grain at all.
                    var tracker = new RequestTracker(grains.GetGrain<IRequestGrain>(spec.RequestId), time, logger);
                    tracker.Start(spec, decision.InstanceId);
                    return new RunningRequest(spec, decision.InstanceId, stream, tracker, router, grains, metrics, time, arrivedAt, logger);
                }
                refused.Add(decision.InstanceId);
            }
            throw new ApiErrorException(ApiError.Unavailable($"No instance of '{model.Name}' took the request after {config.Gateway.DispatchAttempts} attempts; retry later."));
        }
        catch (Exception ex)
        {
            var error = ex is ApiErrorException api ? api.Error : ApiError.Server("dispatch failed");
            metrics.Outcome(model.Name, error.Status == StatusCodes.Status429TooManyRequests ? "overloaded" : "rejected");
            router.Close(spec.RequestId);
            metrics.LeaveRequest();
            throw;
        }
    }

    private RequestSpec BuildSpec(CompletionRequest request, ServedModel model)
    {
        var prompt = request.PromptTokenIds ?? model.Tokenizer.Encode(request.Kind == CompletionKind.Chat
            ? ChatTemplates.Render(model.ChatTemplate, request.Messages)
            : request.PromptText!);
        if (prompt.Count == 0)
            throw new ApiErrorException(ApiError.Invalid(request.PromptParam, "The prompt is empty."));
        foreach (var id in prompt)
        {
            if (id >= model.Tokenizer.VocabularySize)
                throw new ApiErrorException(ApiError.Invalid(request.PromptParam, $"Token id {id} is outside the model's vocabulary of {model.Tokenizer.VocabularySize}."));
        }
        var room = model.MaxContextTokens - prompt.Count;
        if (room < 1)
            throw new ApiErrorException(ApiError.Invalid(request.PromptParam,
                $"This model's maximum context length is {model.MaxContextTokens} tokens. However, your prompt is {prompt.Count} tokens.", "context_length_exceeded"));
        if (request.MaxTokens > room)
            throw new ApiErrorException(ApiError.Invalid(request.MaxTokensParam,
                $"This model's maximum context length is {model.MaxContextTokens} tokens. However, you requested {prompt.Count + request.MaxTokens} tokens ({prompt.Count} in the prompt, {request.MaxTokens} for the completion).", "context_length_exceeded"));
        return new RequestSpec
        {
            RequestId = NewId(request.Kind),
            Model = model.Name,
            PromptTokenIds = prompt,
            Sampling = request.Sampling with { MaxTokens = request.MaxTokens ?? Math.Min(config.Gateway.DefaultMaxTokens, room) },
            ServiceClass = request.ServiceClass,
            Priority = request.Priority,
            ArrivedAt = time.GetUtcNow(),
        };
    }

    private ApiError Refusal(DispatchRefusal refusal, ServedModel model, CompletionRequest request) => refusal switch
    {
        DispatchRefusal.Overloaded => ApiError.Overloaded($"Every instance of '{model.Name}' is at its queue limit; retry after {config.Gateway.RetryAfterSeconds} s."),
        DispatchRefusal.TooLarge => ApiError.Invalid(request.PromptParam, $"The prompt needs more KV cache than any instance of '{model.Name}' has.", "context_length_exceeded"),
        _ => ApiError.Unavailable($"No instance of '{model.Name}' is ready; retry later."),
    };

    private static string NewId(CompletionKind kind)
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        return (kind == CompletionKind.Chat ? "chatcmpl-" : "cmpl-") + Convert.ToHexStringLower(bytes);
    }
}
