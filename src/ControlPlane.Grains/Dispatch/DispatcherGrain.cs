using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Dispatch;

/// <summary>
/// A stateless dispatch worker, one or more per model on every silo that asks. It decides through a
/// <see cref="DispatchView"/> of the scheduler's load snapshot, refreshed in the background every
/// <see cref="RefreshPeriod"/> (in the foreground when older than <see cref="StaleAfter"/>), and asks the
/// <see cref="DisaggregationDecider"/> whether a request's prompt runs on a prefill instance first.
/// </summary>
[StatelessWorker]
public sealed class DispatcherGrain(IOptions<DispatchConfig> config, IOptions<DisaggregationConfig> disaggregation, TimeProvider time) : Grain, IDispatcherGrain
{
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A view older than this (its dispatcher sat idle) is refreshed before it decides: under steady traffic a decision
    /// is at most a refresh behind, and after a lull (roles, health and loads may all have changed) it is not made blind.
    /// </summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(1);
    /// <summary>Longest expected time from a dispatch decision to the admission reaching its engine (grain calls, maybe across silos).</summary>
    public static readonly TimeSpan AdmissionDelay = TimeSpan.FromMilliseconds(50);
    private readonly DispatchView _view = new(DispatchPolicies.Create(config.Value, new Random()), AdmissionDelay, new DisaggregationDecider(disaggregation.Value));
    private long _version = -1;
    private long _refreshedAt;
    private Task? _refresh;

    public async Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default)
    {
        var age = time.GetElapsedTime(_refreshedAt);
        if (_view.IsEmpty || age >= StaleAfter)
            await RefreshAsync();
        else if (age >= RefreshPeriod && _refresh is not { IsCompleted: false })
            _refresh = RefreshAsync();

        var dispatch = DispatchRequest.From(request);
        var outcome = _view.Dispatch(dispatch, time.GetUtcNow(), exclude);
        if (!outcome.Succeeded)
            return DispatchDecision.Refused(outcome.Refusal, _view.RetryAfter(dispatch, outcome.Refusal, config.Value.SloAdmission));
        return DispatchDecision.To(_view.Loads[outcome.Index].InstanceId, outcome.PrefillIndex >= 0 ? _view.Loads[outcome.PrefillIndex].InstanceId : null);
    }

    private async Task RefreshAsync()
    {
        var snapshot = await GrainFactory.GetGrain<ISchedulerGrain>(this.GetPrimaryKeyString()).GetSnapshotAsync();
        _refreshedAt = time.GetTimestamp();
        if (snapshot.Version == _version)
            return;
        _version = snapshot.Version;
        _view.Refresh(snapshot.Instances);
    }
}
