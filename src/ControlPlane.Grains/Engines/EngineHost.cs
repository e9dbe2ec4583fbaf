using System.Collections.Concurrent;
using ControlPlane.Engines;
using ControlPlane.Grains.Cluster;
using ControlPlane.Grains.Requests;
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
    IClusterMembershipService membership, IOptions<WorkerConfig> worker) : BackgroundService
{
    public static readonly TimeSpan ReportPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, EngineRunner> _runners = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<EngineHost>();

    public IReadOnlyCollection<EngineRunner> Runners => _runners.Values as IReadOnlyCollection<EngineRunner> ?? [.. _runners.Values];

    /// <summary>Adds an engine to run here; call before the host starts, or at any time after (it registers at once).</summary>
    public EngineRunner Add(InstanceDescriptor descriptor, IEngine engine, IPowerActuator? power = null)
    {
        var runner = new EngineRunner(descriptor, engine, time, loggers.CreateLogger<EngineRunner>(), localSinks,
            new RequestPhaseWriter(grains, time, loggers.CreateLogger<RequestPhaseWriter>()), power);
        if (!_runners.TryAdd(descriptor.InstanceId, runner))
            throw new InvalidOperationException($"instance '{descriptor.InstanceId}' is already hosted here");
        if (power is not null)
            EngineMetrics.Observe(runner);
        return runner;
    }

    public bool TryGet(string instanceId, out EngineRunner runner) => _runners.TryGetValue(instanceId, out runner!);

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
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.ReportFailed(_logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>
    /// Every engine here refuses new work (dispatch sees it within a report period), then this waits up to
    /// <see cref="WorkerConfig.DrainTimeout"/> for running requests to finish while the silo still delivers their
    /// tokens. Returns the requests left. A pod's preStop hook calls it (<c>GET /admin/drain</c>); stopping does too.
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
        foreach (var runner in _runners.Values)
        {
            EngineMetrics.Forget(runner);
            await runner.DisposeAsync();
        }
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

        [LoggerMessage(2, LogLevel.Information, "Instance {InstanceId} of model {Model} ({Engine}) registered with its scheduler")]
        public static partial void Registered(ILogger logger, string instanceId, string model, string engine);
    }
}
