using System.Collections.Concurrent;
using ControlPlane.Grains;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Requests this gateway holds because their model has no ready instance, per model; each change (and a refresh
/// while they wait) goes to the model's scheduler, whose autoscaling planner then brings a pool back from zero.
/// </summary>
public sealed class HeldRequests(IGrainFactory grains, ILocalSiloDetails silo, ILogger<HeldRequests> logger)
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public int Of(string model) => _counts.GetValueOrDefault(model);

    public void Enter(string model) => Report(model, _counts.AddOrUpdate(model, 1, (_, n) => n + 1));

    public void Leave(string model) => Report(model, _counts.AddOrUpdate(model, 0, (_, n) => Math.Max(0, n - 1)));

    /// <summary>Says again what is held (the scheduler forgets a gateway's count that is not refreshed).</summary>
    public void Refresh(string model) => Report(model, Of(model));

    private void Report(string model, int held) => _ = ReportAsync(model, held);

    private async Task ReportAsync(string model, int held)
    {
        try
        {
            await grains.GetGrain<ISchedulerGrain>(model).ReportHeldAsync(silo.Name, held);
        }
        catch (Exception ex)
        {
            GatewayLog.HeldReportFailed(logger, ex, model);
        }
    }
}
