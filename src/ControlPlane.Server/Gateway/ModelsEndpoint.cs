using System.Text.Json;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>.</summary>
public static class ModelsEndpoint
{
    public static IResult List(ModelCatalog catalog) =>
        Results.Json(new { @object = "list", data = catalog.All.OrderBy(m => m.Name, StringComparer.Ordinal).Select(Describe) });

    public static async Task Get(HttpContext context, string id, ModelCatalog catalog)
    {
        if (!catalog.TryGet(id, out var model))
        {
            await CompletionEndpoint.WriteErrorAsync(context.Response, ApiError.ModelNotFound(id), 0);
            return;
        }
        await context.Response.WriteAsJsonAsync(Describe(model), JsonSerializerOptions.Web);
    }

    private static object Describe(ServedModel m) => new Dictionary<string, object>
    {
        ["id"] = m.Name,
        ["object"] = "model",
        ["created"] = m.Created.ToUnixTimeSeconds(),
        ["owned_by"] = m.OwnedBy,
        ["max_model_len"] = m.MaxContextTokens,
    };
}
