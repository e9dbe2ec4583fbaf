using System.Text.Json;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>.</summary>
public static class ModelsEndpoint
{
    /// <summary>The configured models and those the cluster runs (learned first where new).</summary>
    public static async Task<IResult> List(ModelCatalog catalog, CancellationToken cancellationToken)
    {
        await catalog.RefreshAsync(cancellationToken);
        return Results.Json(new { @object = "list", data = catalog.All.OrderBy(m => m.Name, StringComparer.Ordinal).Select(Describe) });
    }

    public static async Task Get(HttpContext context, string id, ModelCatalog catalog)
    {
        if (await catalog.FindAsync(id, context.RequestAborted) is not { } model)
        {
            await CompletionEndpoint.WriteErrorAsync(context.Response, ApiError.ModelNotFound(id), 0);
            return;
        }
        await context.Response.WriteAsJsonAsync(Describe(model), JsonSerializerOptions.Web);
    }

    private static object Describe(ServedModel m)
    {
        var model = new Dictionary<string, object>
        {
            ["id"] = m.Name,
            ["object"] = "model",
            ["created"] = m.Created.ToUnixTimeSeconds(),
            ["owned_by"] = m.OwnedBy,
            ["max_model_len"] = m.MaxContextTokens,
        };
        // Not OpenAI's: the classes a request may name as priority_class, so that clients can find them.
        if (m.PriorityClasses.Count > 0)
        {
            model["priority_classes"] = m.PriorityClasses.Values.OrderBy(c => c.Name, StringComparer.Ordinal)
                .Select(c => new { name = c.Name, service_tier = Tenants.TenantDirectory.TierName(c.ServiceClass), priority = c.Priority, @default = c.IsDefault }).ToArray();
        }
        return model;
    }
}
