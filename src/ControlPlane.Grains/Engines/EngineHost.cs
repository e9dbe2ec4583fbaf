using System.Collections.Concurrent;
using ControlPlane.Engines;
using ControlPlane.Grains.Cluster;
using ControlPlane.Grains.KvCache;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Grains.Requests;
using ControlPlane.Grains.Transfer;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Instances;
using ControlPlane.Power;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// The engines this silo runs. Registers each with its model's scheduler and sends the scheduler one
/// batched load report per model every <see cref="ReportPeriod"/>. Instance grains find their engine here.
/// </summary>
public sealed partial class EngineHost(IGrainFactory grains, TimeProvider time, ILoggerFactory loggers, LocalTokenSinks localSinks,
    IClusterMembershipService membership, IOptions<WorkerConfig> worker, IOptions<MigrationConfig> migration, ILocalSiloDetails silo,
    IOptions<KvCacheConfig> kvCache, IOptions<ControlPlane.Scheduling.Disaggregation.DisaggregationConfig> disaggregation) : BackgroundService
{
    private readonly ConcurrentDictionary<string, KvEventPublisher> _kvPublishers = new(StringComparer.Ordinal);
    private KvStreamListener? _kvListener;

    public static readonly TimeSpan ReportPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the host tells the model directory (<see cref="IModelDirectoryGrain"/>) which models it runs.</summary>
    public static readonly TimeSpan AnnouncePeriod = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, EngineRunner> _runners = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<EngineHost>();

    public IReadOnlyCollection<EngineRunner> Runners => _runners.Values as IReadOnlyCollection<EngineRunner> ?? [.. _runners.Values];

    /// <summary>
    /// Adds an engine to run here; call before the host starts, or at any time after (it registers at once). With a
    /// <paramref name="card"/> (what gateways need to serve the model, <see cref="IInstanceGrain.GetModelCardAsync"/>) gateways
    /// not configured with the model learn it; with none, only those configured with it serve it.
    /// </summary>
    public EngineRunner Add(InstanceDescriptor descriptor, IEngine engine, IPowerActuator? power = null, ModelCard? card = null)
    {
        var runner = new EngineRunner(descriptor, engine, time, loggers.CreateLogger<EngineRunner>(), localSinks,
            new RequestPhaseWriter(grains, time, loggers.CreateLogger<RequestPhaseWriter>()), power)
        {
            Migration = migration.Value,
            Targets = TargetFor,
            // A split request whose decode instance refuses it goes to another the model's dispatcher picks (as the
            // gateway's would), before it decodes where it was prefilled.
            HandoffAttempts = disaggregation.Value.HandoffAttempts,
            RedirectHandoff = (request, exclude, cancellationToken) => grains.GetGrain<IDispatcherGrain>(descriptor.Model).PickDecodeAsync(request, exclude, cancellationToken),
            Card = card,
        };
        if (!_runners.TryAdd(descriptor.InstanceId, runner))
            throw new InvalidOperationException($"instance '{descriptor.InstanceId}' is already hosted here");
        runner.FetchPrefix = (request, cancellationToken) => FetchPrefixAsync(runner, request, cancellationToken);
        if (kvCache.Value.IndexShards > 0)
            _kvPublishers[descriptor.InstanceId] = new KvEventPublisher(runner, grains, kvCache.Value.IndexShards);
        if (power is not null)
            EngineMetrics.Observe(runner);
        EngineMetrics.Track(runner);
        return runner;
    }

    public bool TryGet(string instanceId, out EngineRunner runner) => _runners.TryGetValue(instanceId, out runner!);

    /// <summary>This silo's address, as gateways and peers know it.</summary>
    public string Silo => silo.SiloAddress.ToParsableString();

    /// <summary>Whether KV parts to workers of this host may go device to device (<see cref="WorkerConfig.KvDevicePath"/>).</summary>
    public bool KvDevicePath => worker.Value.KvDevicePath;

    /// <summary>Where peers stream KV parts to this worker's engines; null when it serves no KV endpoint.</summary>
    public (string Host, int Port)? KvEndpoint { get; private set; }

    /// <summary>
    /// Where a request hosted here migrates to <paramref name="destination"/>: in
    /// memory when both run here, else over the KV data path to the destination's worker.
    /// </summary>
    public IMigrationTarget TargetFor(string destination) => _runners.TryGetValue(destination, out var local)
        ? new LocalMigrationTarget(local, Silo)
        : new RemoteMigrationTarget(grains.GetGrain<IInstanceGrain>(destination), destination, worker.Value.KvDevicePath);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (worker.Value.KvPort >= 0 && !_runners.IsEmpty)
        {
            _kvListener = new KvStreamListener(ReceiveKvAsync, loggers.CreateLogger<KvStreamListener>());
            _kvListener.Start(System.Net.IPAddress.Any, worker.Value.KvPort);
            var host = worker.Value.KvHost is { Length: > 0 } configured ? configured : silo.SiloAddress.Endpoint.Address.ToString();
            KvEndpoint = (host, _kvListener.Port);
            Log.KvEndpoint(_logger, host, _kvListener.Port);
        }
        return base.StartAsync(cancellationToken);
    }

    /// <summary>
    /// A request's prefix blocks from the instance its dispatcher named: in memory when it runs here, else streamed by
    /// the peer to this worker's KV endpoint. Returns the blocks taken into the engine's cache.
    /// </summary>
    private async Task<int> FetchPrefixAsync(EngineRunner runner, ControlPlane.Requests.RequestSpec request, CancellationToken cancellationToken)
    {
        var order = request.PrefixFetch!;
        var tokens = request.PromptTokenIds.Take((order.FirstBlock + order.BlockCount) * runner.Descriptor.KvBlockSize).ToArray();
        var fetchId = $"{request.RequestId}/prefix";
        if (_runners.TryGetValue(order.SourceInstanceId, out var local))
        {
            var imported = 0;
            // In this process the blocks go device to device (one GPU per worker).
            await local.SendPrefixAsync(fetchId, tokens, order.FirstBlock, order.BlockCount, async part => imported += await runner.ImportPrefixAsync(part), () => true)
                .WaitAsync(cancellationToken);
            return imported;
        }
        if (KvEndpoint is not { } endpoint)
            throw new InvalidOperationException("this worker serves no KV endpoint: set Worker:KvPort to fetch prefixes from peers");
        using var expected = runner.ExpectPrefix(fetchId);
        var send = new ControlPlane.KvCache.PrefixSendOrder(fetchId, tokens, order.FirstBlock, order.BlockCount, endpoint.Host, endpoint.Port)
        {
            HostId = ControlPlane.Transfer.KvHost.BootId,
        };
        return await grains.GetGrain<IInstanceGrain>(order.SourceInstanceId).SendPrefixAsync(send, cancellationToken);
    }

    /// <summary>A part from a peer: to the engine that expects its request (or, for a prefix part, its fetch).</summary>
    private async ValueTask ReceiveKvAsync(ControlPlane.Transfer.KvPart part, CancellationToken cancellationToken)
    {
        var id = part.Header.RequestId;
        if (part.Header.PrefixParentHash is not null)
        {
            var fetcher = _runners.Values.FirstOrDefault(r => r.ExpectsPrefix(id))
                ?? throw new MigrationRefusedException($"no engine on this worker expects the prefix part '{id}'");
            await fetcher.ImportPrefixAsync(part).WaitAsync(cancellationToken);
            return;
        }
        var runner = _runners.Values.FirstOrDefault(r => r.ExpectsImport(id))
            ?? throw new MigrationRefusedException($"no engine on this worker expects KV blocks of request '{id}'");
        await runner.ImportAsync(part).WaitAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ReportAsync(stoppingToken), WatchGatewaysAsync(stoppingToken));

    /// <summary>Aborts the requests of each gateway silo that leaves the cluster, freeing their KV blocks.</summary>
    private async Task WatchGatewaysAsync(CancellationToken stoppingToken)
    {
        var departures = new SiloDepartures();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                foreach (var gone in departures.Observe(snapshot))
                {
                    foreach (var runner in _runners.Values)
                        runner.AbortOrphans(gone.SiloAddress.ToParsableString());
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReportAsync(CancellationToken stoppingToken)
    {
        var registered = new HashSet<string>(StringComparer.Ordinal);
        DateTimeOffset? announced = null;
        var announcedCount = 0;
        using var timer = new PeriodicTimer(ReportPeriod, time);
        do
        {
            try
            {
                foreach (var runner in _runners.Values)
                {
                    if (registered.Contains(runner.Descriptor.InstanceId))
                        continue;
                    runner.Start();
                    await grains.GetGrain<ISchedulerGrain>(runner.Descriptor.Model).RegisterInstanceAsync(runner.Descriptor, stoppingToken);
                    registered.Add(runner.Descriptor.InstanceId);
                    Log.Registered(_logger, runner.Descriptor.InstanceId, runner.Descriptor.Model, runner.Descriptor.Engine);
                }
                foreach (var runner in _runners.Values)
                    runner.Sweep();
                // The runner republishes its load whenever it changes; stamping it here says "still true now".
                var now = time.GetUtcNow();
                foreach (var model in _runners.Values.GroupBy(r => r.Descriptor.Model))
                {
                    var unknown = await grains.GetGrain<ISchedulerGrain>(model.Key).ReportLoadAsync([.. model.Select(r => r.ReadLoad(now))], stoppingToken);
                    foreach (var id in unknown)
                    {
                        registered.Remove(id);
                        Log.Forgotten(_logger, id, model.Key);
                    }
                }
                await PublishKvEventsAsync(registered, stoppingToken);
                if (announced is null || time.GetUtcNow() - announced >= AnnouncePeriod || registered.Count != announcedCount)
                {
                    await AnnounceAsync(registered, stoppingToken);
                    announced = time.GetUtcNow();
                    announcedCount = registered.Count;
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.ReportFailed(_logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>The models of the engines registered here, with their instances, to the model directory (gateways learn of models from it).</summary>
    private async Task AnnounceAsync(HashSet<string> registered, CancellationToken stoppingToken)
    {
        var directory = grains.GetGrain<IModelDirectoryGrain>(0);
        foreach (var model in _runners.Values.Where(r => registered.Contains(r.Descriptor.InstanceId)).GroupBy(r => r.Descriptor.Model))
            await directory.AnnounceAsync(model.Key, [.. model.Select(r => new ModelInstanceEntry(r.Descriptor.InstanceId, r.Card?.Version ?? "", r.Card?.Created ?? default) { Node = r.Descriptor.Node })],
                stoppingToken);
    }

    /// <summary>Each registered engine's KV events to its model's index shards; a failure costs that engine a resync, not the others their batches.</summary>
    private async Task PublishKvEventsAsync(HashSet<string> registered, CancellationToken stoppingToken)
    {
        foreach (var (id, publisher) in _kvPublishers)
        {
            if (!registered.Contains(id))
                continue;
            try
            {
                await publisher.PublishAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.KvPublishFailed(_logger, ex, id);
            }
        }
    }

    /// <summary>
    /// Every engine here refuses new work (dispatch sees it within a report period) and reports itself draining, so
    /// the model's scheduler migrates its running requests to other instances (when migration is on); this waits up
    /// to <see cref="WorkerConfig.DrainTimeout"/> for them to have moved or finished while the silo still delivers
    /// their tokens. Returns the requests left. A pod's preStop hook calls it (<c>GET /admin/drain</c>); stopping does too.
    /// </summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var active = _runners.Values.Sum(r => r.ActiveRequests);
        foreach (var runner in _runners.Values)
            runner.Drain();
        if (active == 0)
            return 0;
        Log.Draining(_logger, active, worker.Value.DrainTimeout);
        var started = time.GetTimestamp();
        while (_runners.Values.Any(r => r.ActiveRequests > 0) && time.GetElapsedTime(started) < worker.Value.DrainTimeout
            && !cancellationToken.IsCancellationRequested)
            await Task.Delay(DrainPoll, time, CancellationToken.None);
        var left = _runners.Values.Sum(r => r.ActiveRequests);
        Log.Drained(_logger, left, time.GetElapsedTime(started));
        return left;
    }

    /// <summary>
    /// Drains (<see cref="DrainAsync"/>) while the silo still delivers tokens; only then do the engines stop and,
    /// after this host, the silo leave.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
        foreach (var publisher in _kvPublishers.Values)
        {
            try
            {
                await publisher.ForgetAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.ReportFailed(_logger, ex);
            }
        }
        foreach (var runner in _runners.Values)
        {
            EngineMetrics.Forget(runner);
            await runner.DisposeAsync();
        }
        if (_kvListener is not null)
            await _kvListener.DisposeAsync();
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Registering or reporting engine load to the scheduler failed; retrying next period")]
        public static partial void ReportFailed(ILogger logger, Exception exception);

        [LoggerMessage(5, LogLevel.Warning, "The scheduler of model {Model} does not know instance {InstanceId} (it was activated anew); registering it again")]
        public static partial void Forgotten(ILogger logger, string instanceId, string model);

        [LoggerMessage(3, LogLevel.Information, "Stopping: draining {Count} request(s) for at most {Timeout}")]
        public static partial void Draining(ILogger logger, int count, TimeSpan timeout);

        [LoggerMessage(4, LogLevel.Information, "Drained: {Count} request(s) left after {Elapsed}")]
        public static partial void Drained(ILogger logger, int count, TimeSpan elapsed);

        [LoggerMessage(7, LogLevel.Warning, "Publishing the KV events of instance {InstanceId} to the prefix index failed; it resends its holdings next period")]
        public static partial void KvPublishFailed(ILogger logger, Exception exception, string instanceId);

        [LoggerMessage(6, LogLevel.Information, "KV data endpoint at {Host}:{Port}")]
        public static partial void KvEndpoint(ILogger logger, string host, int port);

        [LoggerMessage(2, LogLevel.Information, "Instance {InstanceId} of model {Model} ({Engine}) registered with its scheduler")]
        public static partial void Registered(ILogger logger, string instanceId, string model, string engine);
    }
}
