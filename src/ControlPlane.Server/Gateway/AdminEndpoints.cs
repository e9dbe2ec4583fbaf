using ControlPlane.Grains;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>POST /admin/models/{model}/drain</c>: every instance of the model stops taking new requests; running
/// ones finish (and, once migration lands, move away). The operator calls it before a ModelService's pods go.
/// </summary>
public static class AdminEndpoints
{
    public static async Task<IResult> DrainModel(string model, ModelCatalog catalog, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (!catalog.TryGet(model, out _))
            return Results.Json(new { error = new { message = $"The model '{model}' does not exist.", type = "invalid_request_error", param = "model", code = "model_not_found" } },
                statusCode: StatusCodes.Status404NotFound);
        var instances = await grains.GetGrain<ISchedulerGrain>(model).GetInstancesAsync(cancellationToken);
        foreach (var instance in instances)
            await grains.GetGrain<IInstanceGrain>(instance.InstanceId).DrainAsync(cancellationToken);
        return Results.Json(new { model, drained = instances.Select(i => i.InstanceId) }, statusCode: StatusCodes.Status202Accepted);
    }
}
