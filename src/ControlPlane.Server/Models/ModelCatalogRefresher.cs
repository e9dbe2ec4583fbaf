namespace ControlPlane.Server.Models;

/// <summary>
/// Refreshes the gateway's <see cref="ModelCatalog"/> from the cluster every <see cref="Period"/>, so that a model's
/// changed card (its ModelService edited) reaches a gateway whose clients only ever ask for known models.
/// </summary>
public sealed class ModelCatalogRefresher(ModelCatalog catalog, TimeProvider time) : BackgroundService
{
    /// <summary>As often as hosts announce their models.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            using var timer = new PeriodicTimer(Period, time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await catalog.RefreshAsync(stoppingToken); // logs and swallows the cluster's failures itself
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
