using ControlPlane.Grains.Cluster;
using ControlPlane.Server.Gateway;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// The gateway's side of a lost worker: when Orleans' membership declares a silo dead (its pod killed, or
/// gone after a drain), each request this gateway streams from an instance on that pod resumes on another
/// instance from the tokens already sent. Detection is membership's, not a client timeout.
/// </summary>
public sealed class SiloLossWatcher(IClusterMembershipService membership, TokenRouter router, RequestExecutor executor, ILogger<SiloLossWatcher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var departures = new SiloDepartures();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                foreach (var gone in departures.Observe(snapshot))
                {
                    var running = router.RunningOn(gone.SiloAddress.ToParsableString());
                    if (running.Count == 0)
                        continue;
                    GatewayLog.SiloLost(logger, gone.SiloAddress.ToString(), gone.Name, running.Count);
                    _ = Task.WhenAll(running.Select(r => executor.ResumeAsync(r, stoppingToken)));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
