using ControlPlane.Grains;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway;
using ControlPlane.Server.Metrics;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// Each gateway tells each model's scheduler, every <c>Autoscale:Period</c>, the time to first token and per output token
/// of the requests it finished over the last minute (a <see cref="ControlPlane.Scheduling.Autoscaling.LatencyWindow"/>, as
/// the simulator's planner reads), with the model's objectives: with autoscaling on, the planner adds a replica to a pool
/// whose 90th percentile misses its objective; the status page shows the merged figures in any case.
/// </summary>
public sealed class LatencyReporter(GatewayMetrics metrics, ModelCatalog catalog, IGrainFactory grains, ILocalSiloDetails silo, ControlPlaneConfig config,
    TimeProvider time, ILogger<LatencyReporter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(config.Autoscale.Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var (model, window) in metrics.Latency)
                {
                    if (window.Report(time.GetUtcNow()) is not { } observed)
                        continue;
                    var known = catalog.TryGet(model, out var served);
                    var report = observed with { SloTtftMs = known ? served.SloTtftMs : null, SloTpotMs = known ? served.SloTpotMs : null };
                    try
                    {
                        await grains.GetGrain<ISchedulerGrain>(model).ReportLatencyAsync(silo.Name, report, stoppingToken);
                    }
                    catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                    {
                        GatewayLog.LatencyReportFailed(logger, ex, model);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
