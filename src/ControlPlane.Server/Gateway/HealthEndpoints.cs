using ControlPlane.Grains;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary><c>/healthz</c>: the process serves HTTP. <c>/readyz</c>: every model has a ready instance in the cluster.</summary>
public static class HealthEndpoints
{
    public static IResult Healthz() => Results.Text("ok\n");

    /// <summary>A worker alone: ready once every engine it runs is ready (registered and taking requests).</summary>
    public static IResult WorkerReadyz(EngineHost engines)
    {
        var waiting = engines.Runners.Where(r => r.Health != InstanceHealth.Ready).Select(r => $"{r.Descriptor.InstanceId} ({r.Health.ToString().ToLowerInvariant()})").ToArray();
        return waiting.Length == 0
            ? Results.Text($"ready: {engines.Runners.Count} instance(s)\n")
            : Results.Text($"not ready: {string.Join(", ", waiting)}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    public static async Task<IResult> Readyz(ModelCatalog catalog, IGrainFactory grains, Hosting.GracefulShutdown shutdown, CancellationToken cancellationToken)
    {
        if (shutdown.Stopping)
            return Results.Text("not ready: shutting down\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        var missing = new List<string>();
        foreach (var model in catalog.Configured) // a model learned from the cluster is its workers' to make ready, not this gateway's
        {
            var snapshot = await grains.GetGrain<ISchedulerGrain>(model.Name).GetSnapshotAsync(cancellationToken);
            if (!snapshot.Instances.Any(i => i.Health == InstanceHealth.Ready))
                missing.Add(model.Name);
        }
        return missing.Count == 0
            ? Results.Text("ready\n")
            : Results.Text($"not ready: no ready instance of {string.Join(", ", missing)}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
