using ControlPlane.Grains.Engines;
using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;

namespace ControlPlane.Grains.KvCache;

/// <summary>
/// Sends one engine's KV events to its model's index shards, batched per shard once a period (like load reports, never
/// per block). A shard that refuses a batch (it restarted, or a batch was lost) gets the engine's whole holdings: the
/// runner reads them between two steps, so events before that point are dropped and events after it follow on.
/// One caller at a time (the engine host's loop).
/// </summary>
public sealed class KvEventPublisher
{
    private readonly EngineRunner _runner;
    private readonly IGrainFactory _grains;
    private readonly int _shardCount;
    // References made at the first publish, not at construction: a worker silo learns the index grain's type from the
    // control silos' manifest only once it has joined the cluster.
    private IKvIndexGrain[]? _references;
    private readonly long _epoch = Random.Shared.NextInt64();
    private readonly long[] _sequence;
    private bool _needHoldings = true;
    private bool _asked;
    private int _calls;
    private int _backoff;
    private int _wait;

    /// <summary>Every this many calls, shards without news get an empty batch: a restarted shard then asks an idle engine for its holdings.</summary>
    public const int ProbeEvery = 50;

    public KvEventPublisher(EngineRunner runner, IGrainFactory grains, int shards)
    {
        _runner = runner;
        _grains = grains;
        _shardCount = shards;
        _sequence = new long[shards];
        runner.PublishesKvEvents = true;
    }

    private IKvIndexGrain[] Shards => _references ??=
        [.. Enumerable.Range(0, _shardCount).Select(s => _grains.GetGrain<IKvIndexGrain>(KvIndexGrain.Key(_runner.Descriptor.Model, s)))];

    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        if (_wait > 0)
        {
            // After a failure, periods go by before the next try (doubling, up to 5 s): an unreachable index costs the
            // engine no holdings read every period. What comes meanwhile is covered by the holdings sent then.
            _wait--;
            while (_runner.KvFeed.TryDequeue(out _))
            {
            }
            _asked = false;
            return;
        }
        if (_needHoldings && !_asked)
        {
            _runner.RequestKvHoldings();
            _asked = true;
        }
        IReadOnlyList<KvEvent>? holdings = null;
        var buckets = new List<KvEvent>?[_shardCount];
        while (_runner.KvFeed.TryDequeue(out var item))
        {
            if (item.Holdings)
            {
                holdings = item.Events;
                Array.Clear(buckets);
                _needHoldings = _asked = false;
                continue;
            }
            if (_needHoldings)
                continue; // superseded by the holdings on their way
            foreach (var e in item.Events)
                (buckets[KvIndexReplica.ShardOf(e.BlockHash, _shardCount)] ??= []).Add(e);
        }
        try
        {
            if (holdings is not null)
            {
                for (var s = 0; s < _shardCount; s++)
                {
                    var mine = holdings.Where(e => KvIndexReplica.ShardOf(e.BlockHash, _shardCount) == s).ToArray();
                    await Shards[s].ResyncAsync(new KvEventBatch(_runner.Descriptor.InstanceId, _epoch, ++_sequence[s], mine), cancellationToken);
                }
            }
            var probe = ++_calls % ProbeEvery == 0;
            for (var s = 0; s < _shardCount; s++)
            {
                if (buckets[s] is not { } events)
                {
                    if (!probe || _needHoldings)
                        continue;
                    events = [];
                }
                if (!await Shards[s].PublishAsync(new KvEventBatch(_runner.Descriptor.InstanceId, _epoch, ++_sequence[s], events), cancellationToken))
                    _needHoldings = true;
            }
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _needHoldings = true; // whatever did not arrive is covered by the holdings sent next
            _wait = _backoff = Math.Clamp(_backoff * 2, 1, 50);
            throw;
        }
        _backoff = 0;
    }

    /// <summary>Tells every shard the engine is gone (best effort: a shard that misses it forgets the instance when it restarts).</summary>
    public Task ForgetAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Shards.Select(s => s.ForgetAsync(_runner.Descriptor.InstanceId, cancellationToken)));
}
