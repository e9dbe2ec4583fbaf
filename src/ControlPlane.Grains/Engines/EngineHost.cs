using System.Collections.Concurrent;
using ControlPlane.Engines;
using ControlPlane.Grains.Requests;
using ControlPlane.Instances;
using ControlPlane.Power;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// The engines this silo runs. Registers each with its model's scheduler and sends the scheduler one
/// batched load report per model every <see cref="ReportPeriod"/>. Instance grains find their engine here.
/// </summary>
public sealed partial class EngineHost(IGrainFactory grains, TimeProvider time, ILoggerFactory loggers, LocalTokenSinks localSinks) : BackgroundService
{
    public static readonly TimeSpan ReportPeriod = TimeSpan.FromMilliseconds(100);
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
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
                    await grains.GetGrain<ISchedulerGrain>(model.Key).ReportLoadAsync([.. model.Select(r => r.ReadLoad(now))], stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.ReportFailed(_logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
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

        [LoggerMessage(2, LogLevel.Information, "Instance {InstanceId} of model {Model} ({Engine}) registered with its scheduler")]
        public static partial void Registered(ILogger logger, string instanceId, string model, string engine);
    }
}
