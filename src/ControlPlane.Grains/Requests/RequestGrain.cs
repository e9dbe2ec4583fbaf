using ControlPlane.Requests;

namespace ControlPlane.Grains.Requests;

/// <summary>
/// A request's lifecycle, persisted in the <c>requests</c> store on placement changes and at the end. Two sides
/// write it: the gateway its start and a cancel, the instance what it sees (decoding, transfers, the ending).
/// Their calls are not ordered with each other, so a transition that arrives before the start waits for it.
/// </summary>
// One activation per request: collected two minutes after its last call, not Orleans' default 15 (at 200 requests a
// second that is 180,000 idle activations held in memory).
[CollectionAgeLimit(Minutes = 2)]
public sealed class RequestGrain([PersistentState("request", RequestGrain.StorageName)] IPersistentState<RequestStatus> state)
    : Grain, IRequestGrain
{
    public const string StorageName = "requests";
    private readonly List<RequestTransition> _early = [];

    public async Task StartAsync(RequestSpec spec, string? instanceId = null, CancellationToken cancellationToken = default)
    {
        if (state.RecordExists)
            throw new InvalidOperationException($"request '{this.GetPrimaryKeyString()}' was already started");
        state.State = new RequestStatus
        {
            Model = spec.Model,
            Tenant = spec.Tenant,
            ServiceClass = spec.ServiceClass,
            Priority = spec.Priority,
            PromptTokens = spec.PromptTokenIds.Count,
            ArrivedAt = spec.ArrivedAt,
            Phase = instanceId is null ? RequestPhase.Queued : RequestPhase.Prefilling,
            Instances = instanceId is null ? Array.Empty<string>() : new[] { instanceId },
            History = instanceId is null ? new[] { RequestPhase.Queued } : new[] { RequestPhase.Queued, RequestPhase.Prefilling },
        };
        await state.WriteStateAsync(cancellationToken);
        foreach (var early in _early.ToArray())
            await AdvanceAsync(early, cancellationToken);
        _early.Clear();
    }

    public async Task<RequestStatus> AdvanceAsync(RequestTransition transition, CancellationToken cancellationToken = default)
    {
        var current = state.State;
        if (!state.RecordExists)
        {
            // The instance saw the first token before the gateway's start landed: apply it after the start.
            _early.Add(transition);
            return current;
        }
        // The client's cancel and the instance's finish race at the end (two writers, unordered): the first ending
        // stands, and a second ending is no error.
        if (RequestLifecycle.IsEnded(current.Phase) && RequestLifecycle.IsEnded(transition.To))
            return current;
        if (!RequestLifecycle.CanMove(current.Phase, transition.To))
            throw new InvalidOperationException($"request '{this.GetPrimaryKeyString()}' cannot move from {current.Phase} to {transition.To}");

        // Plain arrays, not collection-expression types: grain storage serializers must name the type they read back.
        var instances = transition.InstanceId is { } id && (current.Instances.Count == 0 || current.Instances[^1] != id)
            ? current.Instances.Append(id).ToArray()
            : current.Instances;
        state.State = current with
        {
            Phase = transition.To,
            Instances = instances,
            History = current.History.Append(transition.To).ToArray(),
            CompletionTokens = transition.Usage?.CompletionTokens ?? current.CompletionTokens,
            FirstTokenAt = transition.To == RequestPhase.Decoding ? current.FirstTokenAt ?? transition.At : current.FirstTokenAt,
            EndedAt = RequestLifecycle.IsEnded(transition.To) ? transition.At : null,
            FinishReason = transition.FinishReason,
            Error = transition.Error,
        };
        // Placement and endings are what a restarted control plane needs; the first token is not worth a write.
        if (instances != current.Instances || RequestLifecycle.IsEnded(transition.To))
            await state.WriteStateAsync(cancellationToken);
        if (RequestLifecycle.IsEnded(transition.To))
            DelayDeactivation(TimeSpan.FromSeconds(30));
        return state.State;
    }

    public Task<RequestStatus> GetStatusAsync(CancellationToken cancellationToken = default) => Task.FromResult(state.State);
}
