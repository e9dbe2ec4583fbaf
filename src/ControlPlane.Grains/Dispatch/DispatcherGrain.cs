using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Dispatch;

/// <summary>
/// A stateless dispatch worker, one or more per model on every silo that asks. It decides from a copy of
/// the scheduler's load snapshot, refreshed in the background every <see cref="RefreshPeriod"/>, and counts
/// what it sent since that copy into the loads it reads, so a burst between two refreshes spreads out.
/// </summary>
[StatelessWorker]
public sealed class DispatcherGrain(IOptions<DispatchConfig> config, TimeProvider time) : Grain, IDispatcherGrain
{
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);
    private readonly DispatchProfile _profile = DispatchPolicies.Create(config.Value, new Random());
    private InstanceLoad[] _loads = [];
    private long _version = -1;
    private long _refreshedAt;
    private Task? _refresh;

    public async Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default)
    {
        if (_loads.Length == 0)
            await RefreshAsync();
        else if (time.GetElapsedTime(_refreshedAt) >= RefreshPeriod && _refresh is not { IsCompleted: false })
            _refresh = RefreshAsync();

        var dispatch = DispatchRequest.From(request);
        var outcome = _profile.Pick(dispatch, _loads, exclude);
        if (!outcome.Succeeded)
            return DispatchDecision.Refused(outcome.Refusal);

        var chosen = _loads[outcome.Index];
        _loads[outcome.Index] = chosen with
        {
            WaitingRequests = chosen.WaitingRequests + 1,
            WaitingKvBlocks = chosen.WaitingKvBlocks + dispatch.PromptBlocks(chosen.KvBlockSize),
        };
        return DispatchDecision.To(chosen.InstanceId);
    }

    private async Task RefreshAsync()
    {
        var snapshot = await GrainFactory.GetGrain<ISchedulerGrain>(this.GetPrimaryKeyString()).GetSnapshotAsync();
        _refreshedAt = time.GetTimestamp();
        if (snapshot.Version == _version)
            return;
        _version = snapshot.Version;
        _loads = [.. snapshot.Instances];
    }
}
