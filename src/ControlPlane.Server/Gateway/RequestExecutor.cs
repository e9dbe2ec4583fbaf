using ControlPlane.Models.Chat;
using System.Security.Cryptography;
using ControlPlane.Grains;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Server.Metrics;
using ControlPlane.Server.Models;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Turns a checked request into a running one: tokenizes it, checks it against the model's context,
/// asks the local dispatcher for an instance and has that instance admit it, trying another instance
/// when one refuses. Errors come out as <see cref="ApiErrorException"/> with the status the client gets.
/// </summary>
public sealed class RequestExecutor(
    IGrainFactory grains, TokenRouter router, ModelCatalog catalog, ControlPlaneConfig config,
    GatewayMetrics metrics, TimeProvider time, ILocalSiloDetails silo, HeldRequests held, ILogger<RequestExecutor> logger)
{
    private readonly ControlPlane.Grains.Requests.OutageLog _trackingOutage = new(logger, "updating request lifecycles (the request state store)", time);

    public async Task<RunningRequest> StartAsync(CompletionRequest request, Tenant tenant, CancellationToken cancellationToken)
    {
        var arrivedAt = time.GetTimestamp();
        var model = await catalog.FindAsync(request.Model, cancellationToken) ?? throw new ApiErrorException(ApiError.ModelNotFound(request.Model));
        // The class and priority the model's named class gives, then the tenant's ceiling over them (403 above it). The
        // model's default class applies to a request that asks for nothing, where its tenant may use it; where not, the
        // tenant's own default does, as without a class (a plain request is never refused for a class it did not name).
        var classed = request.WithDefaultClassOf(model);
        try
        {
            request = tenant.Admit(classed.WithClassOf(model));
        }
        catch (ApiErrorException) when (classed.ImplicitClass)
        {
            request = tenant.Admit(request);
        }
        var spec = BuildSpec(request, model) with { Tenant = tenant.Name, TenantWeight = tenant.Config.Weight };
        var reserved = spec.PromptTokenIds.Count + spec.Sampling.MaxTokens;
        var rate = tenant.Limiter.TryAcquire(reserved);
        if (!rate.Allowed)
        {
            metrics.Outcome(model.Name, "rate_limited");
            throw new ApiErrorException(rate.TooLarge
                ? ApiError.Invalid(request.MaxTokensParam, rate.Message, "tokens_above_rate_limit") with { Headers = rate.Headers }
                : new ApiError(StatusCodes.Status429TooManyRequests, rate.Message, "rate_limit_exceeded", null, $"rate_limit_{rate.Limit}")
                    { Headers = rate.Headers, RetryAfter = rate.RetryAfter });
        }
        if (metrics.EnterRequest() > config.Gateway.MaxInFlightRequests)
        {
            metrics.LeaveRequest();
            tenant.Limiter.Release(reserved);
            metrics.Outcome(model.Name, "overloaded");
            throw new ApiErrorException(ApiError.Overloaded($"This gateway is serving {config.Gateway.MaxInFlightRequests} requests; retry later."));
        }

        var stream = router.Open(spec.RequestId);
        try
        {
            var (instanceId, silo) = await PlaceAsync(spec, model, request.PromptParam, [], cancellationToken);
            // The request grain learns of the request once it runs somewhere: refused requests cost no grain at all.
            var tracker = new RequestTracker(grains.GetGrain<IRequestGrain>(spec.RequestId), time, _trackingOutage);
            tracker.Start(spec, instanceId);
            var running = new RunningRequest(spec, instanceId, silo, stream, tracker, router, grains, metrics, time, arrivedAt, logger)
            {
                RateLimitHeaders = rate.Headers,
                Release = usage => tenant.Limiter.Release(spec.Sampling.MaxTokens - (usage?.CompletionTokens ?? 0)),
            };
            router.Track(running);
            return running;
        }
        catch (Exception ex)
        {
            var error = ex is ApiErrorException api ? api.Error : ApiError.Server("dispatch failed");
            metrics.Outcome(model.Name, error.Status == StatusCodes.Status429TooManyRequests ? "overloaded" : "rejected");
            router.Close(spec.RequestId);
            metrics.LeaveRequest();
            tenant.Limiter.Release(reserved);
            throw;
        }
    }

    /// <summary>
    /// Continues a request whose instance was lost (<see cref="ResumeCause.InstanceLost"/>: its silo died, and it goes
    /// to another instance) or which its instance no longer runs or streams (<see cref="ResumeCause.Stalled"/>: any
    /// instance, that one included): from the tokens its stream has taken in, on an instance that recomputes its keys
    /// and values. A request that cannot be placed ends with an error chunk. One resume at a time per request.
    /// </summary>
    public async Task ResumeAsync(RunningRequest running, CancellationToken cancellationToken, ResumeCause cause = ResumeCause.InstanceLost)
    {
        if (!running.TryBeginResume())
            return;
        try
        {
            await ResumeOnceAsync(running, cause, cancellationToken);
        }
        finally
        {
            running.EndResume();
        }
    }

    private async Task ResumeOnceAsync(RunningRequest running, ResumeCause cause, CancellationToken cancellationToken)
    {
        var lostAt = time.GetTimestamp();
        var lost = running.InstanceId;
        if (running.Ended || running.Stream.ProgressForResume() is not { } progress || !catalog.TryGet(running.Spec.Model, out var model))
            return;
        var spec = running.Spec with { Progress = progress, HandoffTo = null };
        var causeName = cause == ResumeCause.Stalled ? "stalled" : "instance_lost";
        try
        {
            var (instanceId, silo) = await PlaceResumedAsync(spec, model, cause == ResumeCause.InstanceLost ? [lost] : [], cancellationToken);
            running.MovedTo(instanceId, silo);
            running.Tracker.Advance(RequestPhase.Queued);
            running.Tracker.Advance(RequestPhase.Prefilling, instanceId);
            metrics.Resumed(model.Name, "resumed", time.GetElapsedTime(lostAt), causeName);
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the client hears of it: a resume that fails silently leaves its stream open forever.
            var reason = ex switch
            {
                ApiErrorException api => api.Error.Message,
                OperationCanceledException when cancellationToken.IsCancellationRequested => "the gateway is stopping",
                _ => $"placing it failed ({ex.GetType().Name}: {ex.Message})",
            };
            GatewayLog.ResumeFailed(logger, spec.RequestId, lost, reason);
            metrics.Resumed(model.Name, "failed", TimeSpan.Zero, causeName);
            running.Stream.Accept(new TokenChunk
            {
                RequestId = spec.RequestId,
                Sequence = progress.NextSequence,
                TokenIds = [],
                Text = "",
                FinishReason = FinishReason.Error,
                Error = $"instance '{lost}' was lost and the request could not resume: {reason}",
            });
        }
    }

    /// <summary>
    /// Places a resumed request, waiting out a cluster that is still settling after the loss (loads not yet
    /// reported, every instance busy, calls failing) for up to <see cref="ResumeWindow"/>: its client is still connected.
    /// </summary>
    private async Task<(string InstanceId, string Silo)> PlaceResumedAsync(RequestSpec spec, ServedModel model, IReadOnlyList<string> exclude, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                return await PlaceAsync(spec, model, "prompt", [.. exclude], cancellationToken);
            }
            catch (ApiErrorException ex) when (ex.Error.Status >= 429 && time.GetElapsedTime(started) < ResumeWindow)
            {
                await Task.Delay(ResumeRetryPause, time, cancellationToken);
            }
            catch (Exception ex) when (ex is not ApiErrorException && !cancellationToken.IsCancellationRequested && time.GetElapsedTime(started) < ResumeWindow)
            {
                // A call the loss itself broke (a grain on the lost silo, a timeout while membership settles): try again.
                await Task.Delay(ResumeRetryPause, time, cancellationToken);
            }
        }
    }

    public static readonly TimeSpan ResumeWindow = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ResumeRetryPause = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Asks the dispatcher for an instance and has it admit the request, trying others when one refuses or is
    /// unreachable. When the model has no ready instance at all (a pool scaling from zero), the request is held here for
    /// up to <see cref="GatewayConfig.HoldWhenNoInstance"/>, counted at the scheduler so that its autoscaler starts one.
    /// </summary>
    private async Task<(string InstanceId, string Silo)> PlaceAsync(RequestSpec spec, ServedModel model, string promptParam, List<string> refused, CancellationToken cancellationToken)
    {
        var dispatcher = grains.GetGrain<IDispatcherGrain>(model.Name);
        long? heldSince = null;
        try
        {
            for (var turn = 0; ; turn++)
            {
                for (var attempt = 0; attempt < config.Gateway.DispatchAttempts; attempt++)
                {
                    var decision = await dispatcher.DispatchAsync(spec, refused, model.DispatchPolicy, model.DispatchQueueLimit, cancellationToken);
                    if (decision.InstanceId is null)
                    {
                        if (decision.Refusal == DispatchRefusal.NoInstances && refused.Count == 0 && config.Gateway.HoldWhenNoInstance > TimeSpan.Zero)
                            break; // no instance at all: hold
                        throw new ApiErrorException(Refusal(decision.Refusal, model, promptParam) with { RetryAfter = decision.RetryAfter });
                    }
                    metrics.Dispatched(model.Name, decision.Policy);
                    // Split by disaggregation: the prompt runs on the prefill instance, which hands the request to the decode instance.
                    var admitAt = decision.PrefillInstanceId ?? decision.InstanceId;
                    var admitted = decision.PrefillInstanceId is null ? spec with { PrefixFetch = decision.PrefixFetch } : spec with { HandoffTo = decision.InstanceId };
                    try
                    {
                        var admit = await grains.GetGrain<IInstanceGrain>(admitAt).AdmitAsync(admitted, router.Reference, cancellationToken);
                        if (admit.Accepted)
                        {
                            if (decision.PrefillInstanceId is not null)
                                metrics.Split(model.Name);
                            return (admitAt, admit.Silo);
                        }
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        // Its silo is gone or going: the dispatcher's view has not caught up yet.
                        GatewayLog.AdmitFailed(logger, ex, spec.RequestId, admitAt);
                    }
                    refused.Add(admitAt);
                    if (attempt == config.Gateway.DispatchAttempts - 1)
                        throw new ApiErrorException(ApiError.Unavailable($"No instance of '{model.Name}' took the request after {config.Gateway.DispatchAttempts} attempts; retry later."));
                }
                if (heldSince is null)
                {
                    heldSince = time.GetTimestamp();
                    held.Enter(model.Name);
                }
                else if (time.GetElapsedTime(heldSince.Value) >= config.Gateway.HoldWhenNoInstance)
                {
                    throw new ApiErrorException(ApiError.Unavailable(
                        $"No instance of '{model.Name}' became ready within {config.Gateway.HoldWhenNoInstance.TotalSeconds:0} s; retry later."));
                }
                else if (turn % 20 == 0)
                {
                    held.Refresh(model.Name);
                }
                await Task.Delay(HoldPause, time, cancellationToken);
            }
        }
        finally
        {
            if (heldSince is not null)
                held.Leave(model.Name);
        }
    }

    private static readonly TimeSpan HoldPause = TimeSpan.FromMilliseconds(250);

    private RequestSpec BuildSpec(CompletionRequest request, ServedModel model)
    {
        // A completion's prompt is raw (its client writes any control tokens it wants); a chat's contents are plain text.
        var prompt = request.PromptTokenIds ?? (request.Kind == CompletionKind.Chat
            ? ChatTemplates.Encode(model.ChatTemplate, request.Messages, model.Tokenizer)
            : model.Tokenizer.Encode(request.PromptText!));
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
            ServiceClass = request.ServiceClass ?? ServiceClass.Standard,
            Priority = request.Priority,
            ArrivedAt = time.GetUtcNow(),
            Gateway = silo.SiloAddress.ToParsableString(),
        };
    }

    private ApiError Refusal(DispatchRefusal refusal, ServedModel model, string promptParam) => refusal switch
    {
        DispatchRefusal.Overloaded => ApiError.Overloaded($"Every instance of '{model.Name}' is at its queue limit; retry later (Retry-After says when)."),
        DispatchRefusal.SloMiss => ApiError.Overloaded($"Every instance of '{model.Name}' has a queue that would delay this request's first token past its service class's target; retry later (Retry-After says when).") with { Code = "slo_unattainable" },
        DispatchRefusal.TooLarge => ApiError.Invalid(promptParam, $"The prompt needs more KV cache than any instance of '{model.Name}' has.", "context_length_exceeded"),
        _ => ApiError.Unavailable($"No instance of '{model.Name}' is ready; retry later."),
    };

    private static string NewId(CompletionKind kind)
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        return (kind == CompletionKind.Chat ? "chatcmpl-" : "cmpl-") + Convert.ToHexStringLower(bytes);
    }
}

/// <summary>Why a running request resumes on an instance (see <see cref="RequestExecutor.ResumeAsync"/>).</summary>
public enum ResumeCause
{
    /// <summary>The silo of its instance left the cluster.</summary>
    InstanceLost,

    /// <summary>Its stream went silent and its instance no longer runs it, or sent chunks that never came.</summary>
    Stalled,
}
