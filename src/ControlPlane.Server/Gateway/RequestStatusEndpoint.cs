using System.Text.Json;
using ControlPlane.Grains;
using ControlPlane.Server.Gateway.Tenants;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>GET /v1/requests/{id}</c>: a request's stored lifecycle (phase, where it ran, its usage and timing), for the tenant
/// that sent it; to anyone else, and after its state expired (<c>Cluster:RequestStateTtl</c>), it does not exist.
/// </summary>
public static class RequestStatusEndpoint
{
    public static async Task<IResult> Get(string id, HttpRequest http, TenantDirectory tenants, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var tenant = tenants.Authenticate(http);
        if (id.Length > 64 || !(id.StartsWith("chatcmpl-", StringComparison.Ordinal) || id.StartsWith("cmpl-", StringComparison.Ordinal)))
            return NotFound(id);
        var status = await grains.GetGrain<IRequestGrain>(id).GetStatusAsync(cancellationToken);
        if (status.Model.Length == 0 || !string.Equals(status.Tenant, tenant.Name, StringComparison.Ordinal))
            return NotFound(id);
        return Results.Json(new
        {
            id,
            @object = "request.status",
            model = status.Model,
            phase = status.Phase.ToString().ToLowerInvariant(),
            history = status.History.Select(p => p.ToString().ToLowerInvariant()),
            instances = status.Instances,
            service_tier = TenantDirectory.TierName(status.ServiceClass),
            priority = status.Priority,
            usage = new { prompt_tokens = status.PromptTokens, completion_tokens = status.CompletionTokens },
            finish_reason = status.FinishReason == Requests.FinishReason.None ? null : status.FinishReason.ToString().ToLowerInvariant(),
            error = status.Error,
            arrived_at = status.ArrivedAt.ToUnixTimeMilliseconds() / 1000.0,
            first_token_at = status.FirstTokenAt?.ToUnixTimeMilliseconds() / 1000.0,
            ended_at = status.EndedAt?.ToUnixTimeMilliseconds() / 1000.0,
        }, JsonOptions);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static IResult NotFound(string id) =>
        new ApiError(StatusCodes.Status404NotFound, $"No request '{Fields.Quote(id)}' of yours is known here (it may have expired).", "invalid_request_error", "id", "request_not_found").ToResult();
}
