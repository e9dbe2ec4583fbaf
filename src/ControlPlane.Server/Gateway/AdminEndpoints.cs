using ControlPlane.Grains;
using ControlPlane.Instances;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Operations on instances. <c>POST /admin/models/{model}/drain</c> and <c>POST /admin/pods/{pod}/drain</c>: the
/// instances stop taking new requests while running ones finish (the operator drains a pod before it goes).
/// <c>GET /admin/models/{model}/instances</c>: the scheduler's view of each instance.
/// </summary>
public static class AdminEndpoints
{
    public static async Task<IResult> DrainModel(string model, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var instances = await grains.GetGrain<ISchedulerGrain>(model).GetInstancesAsync(cancellationToken);
        return await DrainAsync(instances.Select(i => i.InstanceId), grains, new { model }, cancellationToken);
    }

    public static async Task<IResult> DrainPod(string pod, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken) =>
        await DrainAsync(await PodInstancesAsync(pod, catalog, grains, cancellationToken), grains, new { pod }, cancellationToken);

    /// <summary><c>POST /admin/models/{model}/resume</c>: a model drain undone: every instance of the model takes requests again.</summary>
    public static async Task<IResult> ResumeModel(string model, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var resumed = new List<string>();
        foreach (var instance in await grains.GetGrain<ISchedulerGrain>(model).GetInstancesAsync(cancellationToken))
        {
            await grains.GetGrain<IInstanceGrain>(instance.InstanceId).ResumeAsync(cancellationToken);
            resumed.Add(instance.InstanceId);
        }
        return Results.Json(new { subject = new { model }, resumed });
    }

    /// <summary><c>POST /admin/pods/{pod}/resume</c>: a drain called off (a scale-in undone): the pod's instances take requests again.</summary>
    public static async Task<IResult> ResumePod(string pod, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var resumed = new List<string>();
        foreach (var id in await PodInstancesAsync(pod, catalog, grains, cancellationToken))
        {
            await grains.GetGrain<IInstanceGrain>(id).ResumeAsync(cancellationToken);
            resumed.Add(id);
        }
        return Results.Json(new { subject = new { pod }, resumed });
    }

    private static async Task<List<string>> PodInstancesAsync(string pod, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        foreach (var model in catalog.All)
        {
            var instances = await grains.GetGrain<ISchedulerGrain>(model.Name).GetInstancesAsync(cancellationToken);
            ids.AddRange(instances.Where(i => InstanceIds.PodOf(i.InstanceId) == pod).Select(i => i.InstanceId));
        }
        return ids;
    }

    public static async Task<IResult> Instances(string model, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var snapshot = await grains.GetGrain<ISchedulerGrain>(model).GetSnapshotAsync(cancellationToken);
        return Results.Json(new
        {
            model,
            data = snapshot.Instances.Select(l => new
            {
                id = l.InstanceId,
                pod = InstanceIds.PodOf(l.InstanceId),
                health = l.Health.ToString().ToLowerInvariant(),
                role = l.Role.ToString().ToLowerInvariant(),
                running = l.RunningRequests,
                waiting = l.WaitingRequests,
                kv_usage = l.KvUsage,
                kv_blocks_used = l.UsedKvBlocks,
                reported_at = l.ReportedAt,
            }),
        });
    }

    /// <summary>
    /// <c>POST /admin/models/{model}/migrations?source=..&amp;destination=..[&amp;request=..]</c>: moves one running request
    /// (the one named, or one the source picks) between two instances of the model now, and answers how it went.
    /// </summary>
    public static async Task<IResult> Migrate(string model, string? source, string? destination, string? request, ModelCatalog catalog, IGrainFactory grains,
        CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var instances = (await grains.GetGrain<ISchedulerGrain>(model).GetInstancesAsync(cancellationToken)).Select(i => i.InstanceId).ToHashSet(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(source) || !instances.Contains(source))
            return ApiError.Invalid("source", $"'{source}' is not an instance of '{model}'.").ToResult();
        // A destination the scheduler no longer lists (its pod just died) is still tried: the migration says why it failed.
        if (string.IsNullOrEmpty(destination) || destination == source || !(instances.Contains(destination) || destination.Contains($"/{model}/", StringComparison.Ordinal)))
            return ApiError.Invalid("destination", $"'{destination}' is not another instance of '{model}'.").ToResult();
        var result = await grains.GetGrain<IInstanceGrain>(source).MigrateOutAsync(destination, "balance", string.IsNullOrEmpty(request) ? null : request, cancellationToken);
        return Results.Json(new
        {
            outcome = result.Outcome.ToString().ToLowerInvariant(),
            request = result.RequestId,
            source,
            destination,
            blocks = result.Blocks,
            bytes = result.Bytes,
            stages = result.Stages,
            stop_ms = result.Stop.TotalMilliseconds,
            duration_ms = result.Duration.TotalMilliseconds,
            error = result.Error,
        });
    }

    /// <summary>
    /// <c>POST /admin/models/{model}/roles?instance=..&amp;role=prefill|decode|mixed</c>: moves an instance to another pool
    /// by hand, as the pool balancer does (without its drain: what runs there finishes there). The model's scheduler
    /// remembers it: a worker that restarts is set to it again (unless its pool's role changed meanwhile).
    /// </summary>
    public static async Task<IResult> SetRole(string model, string? instance, string? role, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var instances = (await grains.GetGrain<ISchedulerGrain>(model).GetInstancesAsync(cancellationToken)).Select(i => i.InstanceId).ToHashSet(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(instance) || !instances.Contains(instance))
            return ApiError.Invalid("instance", $"'{instance}' is not an instance of '{model}'.").ToResult();
        if (ControlPlane.Server.Configuration.ModelConfig.ParseRole(role ?? "") is not { } parsed)
            return ApiError.Invalid("role", $"'{role}' is not a role; known: mixed, prefill, decode.").ToResult();
        await grains.GetGrain<ISchedulerGrain>(model).AssignRoleAsync(instance, parsed, cancellationToken);
        return Results.Json(new { instance, role = parsed.ToString().ToLowerInvariant() });
    }

    /// <summary>
    /// <c>GET /admin/models/{model}/autoscale</c>: the autoscaling planner's last decision (null while it is off), the
    /// instances it saw, the requests gateways hold for want of one, and the latencies gateways observed against the model's
    /// objectives (a missed one adds a replica). The operator applies <c>desired</c>.
    /// </summary>
    public static async Task<IResult> Autoscale(string model, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (await catalog.FindAsync(model, cancellationToken) is null)
            return ModelNotFound(model);
        var desired = await grains.GetGrain<ISchedulerGrain>(model).GetDesiredReplicasAsync(cancellationToken);
        return Results.Json(new
        {
            model, desired = desired.Desired, pools = desired.Pools, instances = desired.Instances, held = desired.Held, at = desired.At,
            observed = new { ttft_p90_ms = desired.TtftP90Ms, tpot_p90_ms = desired.TpotP90Ms, requests = desired.LatencySamples },
            slo = new { ttft_ms = desired.SloTtftMs, tpot_ms = desired.SloTpotMs },
        });
    }

    /// <summary>Drains each instance; one on a silo that is gone is reported, not fatal to the rest.</summary>
    private static async Task<IResult> DrainAsync(IEnumerable<string> instanceIds, IGrainFactory grains, object subject, CancellationToken cancellationToken)
    {
        var drained = new List<string>();
        var unreachable = new List<string>();
        foreach (var id in instanceIds)
        {
            try
            {
                await grains.GetGrain<IInstanceGrain>(id).DrainAsync(cancellationToken);
                drained.Add(id);
            }
            catch (Exception ex) when (ex is OrleansException or SiloUnavailableException or TimeoutException)
            {
                unreachable.Add(id);
            }
        }
        return Results.Json(new { subject, drained, unreachable }, statusCode: StatusCodes.Status202Accepted);
    }

    private static IResult ModelNotFound(string model) =>
        Results.Json(new { error = new { message = $"The model '{model}' does not exist.", type = "invalid_request_error", param = "model", code = "model_not_found" } },
            statusCode: StatusCodes.Status404NotFound);
}
