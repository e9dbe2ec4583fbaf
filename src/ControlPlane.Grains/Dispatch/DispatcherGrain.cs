using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Dispatch;

/// <summary>
/// A stateless dispatch worker, one or more per model on every silo that asks. It decides through a
/// <see cref="DispatchView"/> of the scheduler's load snapshot, refreshed in the background every
/// <see cref="RefreshPeriod"/>.
/// </summary>
[StatelessWorker]
public sealed class DispatcherGrain(IOptions<DispatchConfig> config, TimeProvider time) : Grain, IDispatcherGrain
{
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);
    /// <summary>Longest expected time from a dispatch decision to the admission reaching its engine (grain calls, maybe across silos).</summary>
    public static readonly TimeSpan AdmissionDelay = TimeSpan.FromMilliseconds(50);
    private readonly DispatchView _view = new(DispatchPolicies.Create(config.Value, new Random()), AdmissionDelay);
    private long _version = -1;
    private long _refreshedAt;
    private Task? _refresh;

    public async Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default)
    {
        if (_view.IsEmpty)
            await RefreshAsync();
        else if (time.GetElapsedTime(_refreshedAt) >= RefreshPeriod && _refresh is not { IsCompleted: false })
            _refresh = RefreshAsync();

        var outcome = _view.Dispatch(DispatchRequest.From(request), time.GetUtcNow(), exclude);
        return outcome.Succeeded ? DispatchDecision.To(_view.Loads[outcome.Index].InstanceId) : DispatchDecision.Refused(outcome.Refusal);
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
