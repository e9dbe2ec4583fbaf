using ControlPlane.Grains.KvCache;
using ControlPlane.Instances;
using ControlPlane.KvCache;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.KvCache;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Dispatch;

/// <summary>
/// A stateless dispatch worker, one or more per model on every silo that asks. It decides through a
/// <see cref="DispatchView"/> of the scheduler's load snapshot, refreshed in the background every
/// <see cref="RefreshPeriod"/> (in the foreground when older than <see cref="StaleAfter"/>), and asks the
/// <see cref="DisaggregationDecider"/> whether a request's prompt runs on a prefill instance first. With a prefix index,
/// it keeps a replica of the index shards (refreshed with the loads), names the prompt's blocks once with the engines'
/// chained hash, and lets the view match them, score cached prefixes and plan peer fetches, without a call on the way.
/// </summary>
[StatelessWorker]
public sealed class DispatcherGrain : Grain, IDispatcherGrain
{
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A view older than this (its dispatcher sat idle) is refreshed before it decides: under steady traffic a decision
    /// is at most a refresh behind, and after a lull (roles, health and loads may all have changed) it is not made blind.
    /// </summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(1);
    /// <summary>Longest expected time from a dispatch decision to the admission reaching its engine (grain calls, maybe across silos).</summary>
    public static readonly TimeSpan AdmissionDelay = TimeSpan.FromMilliseconds(50);
    private readonly DispatchConfig _config;
    private readonly TimeProvider _time;
    private readonly DispatchView _view;
    private readonly KvIndexReplicas _replicas;
    private SharedKvIndexReplica? _replica;
    private KvBlockHasher? _hasher;
    private long _version = -1;
    private long _refreshedAt;
    private Task? _refresh;

    public DispatcherGrain(IOptions<DispatchConfig> config, IOptions<DisaggregationConfig> disaggregation, IOptions<KvCacheConfig> kvCache,
        KvIndexReplicas replicas, TimeProvider time)
    {
        _config = config.Value;
        _time = time;
        _replicas = replicas;
        _view = new(DispatchPolicies.Create(config.Value, new Random()), AdmissionDelay, new DisaggregationDecider(disaggregation.Value))
        {
            Fetcher = kvCache.Value.IndexShards > 0 ? new KvFetchPlanner(kvCache.Value.PeerFetch, 0) : null,
        };
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _replica = _replicas.For(this.GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    public async Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default)
    {
        var age = _time.GetElapsedTime(_refreshedAt);
        if (_view.IsEmpty || age >= StaleAfter)
            await RefreshAsync();
        else if (age >= RefreshPeriod && _refresh is not { IsCompleted: false })
            _refresh = RefreshAsync();

        var hashes = Hash(request);
        var dispatch = DispatchRequest.From(request) with { BlockHashes = hashes, Prefix = hashes.Length > 0 ? _replica!.Match(hashes) : null };
        var outcome = _view.Dispatch(dispatch, _time.GetUtcNow(), exclude);
        if (!outcome.Succeeded)
            return DispatchDecision.Refused(outcome.Refusal, _view.RetryAfter(dispatch, outcome.Refusal, _config.SloAdmission));
        return DispatchDecision.To(_view.Loads[outcome.Index].InstanceId, outcome.PrefillIndex >= 0 ? _view.Loads[outcome.PrefillIndex].InstanceId : null) with
        {
            PrefixFetch = outcome.Fetch is { } f ? new PrefixFetchOrder(f.SourceInstance, f.FirstBlock, f.BlockCount) : null,
        };
    }

    /// <summary>The prompt's block names, as its engines name them (model and block size seed the chain); none without an index.</summary>
    private ulong[] Hash(RequestSpec request)
    {
        if (_replica is null || _view.IsEmpty || request.Progress is not null)
            return [];
        var blockSize = _view.Loads[0].KvBlockSize;
        if (_hasher is null || _hasher.BlockSize != blockSize)
            _hasher = new KvBlockHasher(this.GetPrimaryKeyString(), blockSize);
        return request.PromptTokenIds is int[] tokens ? _hasher.HashAll(tokens) : _hasher.HashAll([.. request.PromptTokenIds]);
    }

    private async Task RefreshAsync()
    {
        var model = this.GetPrimaryKeyString();
        var index = _replica?.RefreshAsync(GrainFactory, model) ?? Task.CompletedTask;
        var snapshot = await GrainFactory.GetGrain<ISchedulerGrain>(model).GetSnapshotAsync();
        _refreshedAt = _time.GetTimestamp();
        await index;
        if (snapshot.Version == _version)
            return;
        _version = snapshot.Version;
        _view.Refresh(snapshot.Instances);
    }
}
