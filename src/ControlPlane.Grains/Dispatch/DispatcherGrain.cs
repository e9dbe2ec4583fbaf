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
    private readonly DisaggregationConfig _disaggregation;
    private readonly KvCacheConfig _kvCache;
    private readonly TimeProvider _time;
    private DispatchView _view;
    private (string? Policy, int? QueueLimit) _asked; // the model's settings the view was made for; null: the silo's
    private string _policyName; // the view's policy as it decides: a preset's name, or "custom"

    private static string PolicyName(DispatchConfig config) => config.Profile is null ? config.Policy : "custom";
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
        _disaggregation = disaggregation.Value;
        _kvCache = kvCache.Value;
        _time = time;
        _replicas = replicas;
        _view = NewView(_config);
        _policyName = PolicyName(_config);
    }

    private DispatchView NewView(DispatchConfig config) => new(DispatchPolicies.Create(config, new Random()), AdmissionDelay, new DisaggregationDecider(_disaggregation))
    {
        Fetcher = _kvCache.IndexShards > 0 ? new KvFetchPlanner(_kvCache.PeerFetch, 0) : null,
    };

    /// <summary>
    /// Makes the view decide by the model's <paramref name="policy"/> and <paramref name="queueLimit"/> (from its configuration
    /// or ModelService), rebuilt and refreshed when they change; a policy this silo does not know, or a limit below one,
    /// keeps the silo's own.
    /// </summary>
    private void UseModelSettings(string? policy, int? queueLimit)
    {
        if ((policy, queueLimit) == _asked)
            return;
        _asked = (policy, queueLimit);
        var config = policy is not null && DispatchPolicies.Presets.ContainsKey(policy) ? _config with { Policy = policy, Profile = null } : _config;
        if (queueLimit is >= 1)
            config = config with { QueueLimit = queueLimit.Value };
        _view = NewView(config);
        _policyName = PolicyName(config);
        _version = -1;
        _refreshedAt = 0;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _replica = _replicas.For(this.GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    public async Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, string? policy = null, int? queueLimit = null,
        CancellationToken cancellationToken = default)
    {
        UseModelSettings(policy, queueLimit);
        var age = _time.GetElapsedTime(_refreshedAt);
        if (_view.IsEmpty || age >= StaleAfter)
            await RefreshAsync();
        else if (age >= RefreshPeriod && _refresh is not { IsCompleted: false })
            _refresh = RefreshAsync();

        var hashes = Hash(request);
        var dispatch = DispatchRequest.From(request) with { BlockHashes = hashes, Prefix = hashes.Length > 0 ? _replica!.Match(hashes) : null };
        var outcome = _view.Dispatch(dispatch, _time.GetUtcNow(), exclude);
        if (!outcome.Succeeded)
            return DispatchDecision.Refused(outcome.Refusal, _view.RetryAfter(dispatch, outcome.Refusal, _config.SloAdmission)) with { Policy = _policyName };
        return DispatchDecision.To(_view.Loads[outcome.Index].InstanceId, outcome.PrefillIndex >= 0 ? _view.Loads[outcome.PrefillIndex].InstanceId : null) with
        {
            PrefixFetch = outcome.Fetch is { } f ? new PrefixFetchOrder(f.SourceInstance, f.FirstBlock, f.BlockCount) : null,
            Policy = _policyName,
        };
    }

    public async Task<string?> PickDecodeAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default)
    {
        // The view as the model's gateways configured it here (or the silo's settings on a silo no gateway dispatched from).
        if (_view.IsEmpty || _time.GetElapsedTime(_refreshedAt) >= RefreshPeriod)
            await RefreshAsync();
        var index = _view.PickDecode(DispatchRequest.From(request), _time.GetUtcNow(), exclude);
        return index < 0 ? null : _view.Loads[index].InstanceId;
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
