using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Dispatch;

/// <summary>
/// A stateless dispatch worker, one or more per model on every silo that asks. It decides from a copy of
/// the scheduler's load snapshot, refreshed in the background every <see cref="RefreshPeriod"/>, plus what
/// it sent since each instance last reported: a dispatch counts as queued demand until a load report made
/// after it arrives, so a burst spreads out even across a refresh.
/// </summary>
[StatelessWorker]
public sealed class DispatcherGrain(IOptions<DispatchConfig> config, TimeProvider time) : Grain, IDispatcherGrain
{
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);
    private readonly DispatchProfile _profile = DispatchPolicies.Create(config.Value, new Random());
    private readonly Dictionary<string, List<(DateTimeOffset At, int Blocks)>> _sent = new(StringComparer.Ordinal);
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
        var blocks = dispatch.PromptBlocks(chosen.KvBlockSize);
        if (!_sent.TryGetValue(chosen.InstanceId, out var sent))
            _sent[chosen.InstanceId] = sent = [];
        sent.Add((time.GetUtcNow(), blocks));
        _loads[outcome.Index] = chosen with { WaitingRequests = chosen.WaitingRequests + 1, WaitingKvBlocks = chosen.WaitingKvBlocks + blocks };
        return DispatchDecision.To(chosen.InstanceId);
    }

    private async Task RefreshAsync()
    {
        var snapshot = await GrainFactory.GetGrain<ISchedulerGrain>(this.GetPrimaryKeyString()).GetSnapshotAsync();
        _refreshedAt = time.GetTimestamp();
        if (snapshot.Version == _version)
            return;
        _version = snapshot.Version;
        if (_sent.Count > 0)
        {
            var present = snapshot.Instances.Select(l => l.InstanceId).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _sent.Keys.Where(id => !present.Contains(id)).ToArray())
                _sent.Remove(gone);
        }
        var loads = new InstanceLoad[snapshot.Instances.Count];
        for (var i = 0; i < loads.Length; i++)
            loads[i] = WithUnreported(snapshot.Instances[i]);
        _loads = loads;
    }

    /// <summary>Adds the dispatches that the instance's report does not include yet (made after it was taken).</summary>
    private InstanceLoad WithUnreported(InstanceLoad load)
    {
        if (!_sent.TryGetValue(load.InstanceId, out var sent))
            return load;
        sent.RemoveAll(s => s.At <= load.ReportedAt);
        if (sent.Count == 0)
        {
            _sent.Remove(load.InstanceId);
            return load;
        }
        return load with { WaitingRequests = load.WaitingRequests + sent.Count, WaitingKvBlocks = load.WaitingKvBlocks + sent.Sum(s => s.Blocks) };
    }
}
