using ControlPlane.Grains;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Hosting;

/// <summary>Starts the configured power domains' loops once the silo runs (any control silo may; each domain's grain is one).</summary>
internal sealed partial class PowerDomainStarter(ControlPlaneConfig config, IGrainFactory grains, IHostApplicationLifetime lifetime, ILogger<PowerDomainStarter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _ = EnsureAllAsync(lifetime.ApplicationStopping));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task EnsureAllAsync(CancellationToken cancellationToken)
    {
        foreach (var domain in config.Power.Domains)
        {
            try
            {
                await grains.GetGrain<IPowerDomainGrain>(domain.Name).EnsureRunningAsync(cancellationToken);
                LogStarted(logger, domain.Name, domain.BudgetWatts);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogFailed(logger, ex, domain.Name);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Power domain {Domain} runs with a budget of {Budget:0} W")]
    private static partial void LogStarted(ILogger logger, string domain, double budget);

    [LoggerMessage(2, LogLevel.Error, "Power domain {Domain} could not start")]
    private static partial void LogFailed(ILogger logger, Exception exception, string domain);
}
