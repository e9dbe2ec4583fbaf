using ControlPlane.Requests;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Gateway.Tenants;

/// <summary>A tenant as the gateway enforces it: its ceiling and its limiter.</summary>
public sealed class Tenant(TenantConfig config, ServiceClass ceiling, TimeProvider time)
{
    public string Name => config.Name;
    public TenantConfig Config => config;

    /// <summary>The highest class the tenant may claim.</summary>
    public ServiceClass Ceiling => ceiling;
    public TenantLimiter Limiter { get; } = new(config, time);

    /// <summary>
    /// The request as this tenant may send it: its class the one it asked for (else the standard class, or the ceiling
    /// when that is lower), refused (403 naming the field) when it claims more than the tenant's ceiling or priority.
    /// </summary>
    public CompletionRequest Admit(CompletionRequest request)
    {
        // The enum runs from the most latency-critical (Interactive) down: a smaller value claims more.
        var asked = request.ServiceClass ?? (ceiling > ServiceClass.Standard ? ceiling : ServiceClass.Standard);
        if (asked < ceiling)
        {
            throw new ApiErrorException(new ApiError(StatusCodes.Status403Forbidden,
                $"Tenant '{Name}' may not use service_tier '{TenantDirectory.TierName(asked)}'{ByClass(request)}: its highest is '{TenantDirectory.TierName(ceiling)}'.",
                "permission_error", request.PriorityClass is null ? "service_tier" : "priority_class", "service_tier_not_allowed"));
        }
        if (request.Priority > config.MaxPriority)
        {
            throw new ApiErrorException(new ApiError(StatusCodes.Status403Forbidden,
                $"Tenant '{Name}' may not set priority above {config.MaxPriority} (got {request.Priority}{ByClass(request)}).",
                "permission_error", request.PriorityClass is null ? "priority" : "priority_class", "priority_not_allowed"));
        }
        return request with { ServiceClass = asked };
    }

    private static string ByClass(CompletionRequest request) =>
        request.PriorityClass is null ? "" : $" by priority_class '{Fields.Quote(request.PriorityClass)}'";
}
