using System.Text.Json;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>The control plane's autoscaling decision for a model (its scheduler runs the planner, one per pool).</summary>
public interface IAutoscaleClient
{
    /// <summary>The replicas the model's autoscaler wants per pool (<c>mixed</c>, <c>prefill</c>, <c>decode</c>); empty while it has no decision.</summary>
    Task<IReadOnlyDictionary<string, int>> DesiredAsync(string @namespace, string model, CancellationToken cancellationToken);
}

/// <summary>Reads <c>GET /admin/models/{model}/autoscale</c> from the control service.</summary>
public sealed class HttpAutoscaleClient(HttpClient http) : IAutoscaleClient
{
    public async Task<IReadOnlyDictionary<string, int>> DesiredAsync(string @namespace, string model, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri($"admin/models/{Uri.EscapeDataString(model)}/autoscale", UriKind.Relative), cancellationToken);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        if (!json.RootElement.TryGetProperty("pools", out var pools) || pools.ValueKind != JsonValueKind.Object)
            return new Dictionary<string, int>();
        return pools.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32(), StringComparer.Ordinal);
    }
}
