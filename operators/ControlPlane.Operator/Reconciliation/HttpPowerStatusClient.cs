using System.Text.Json;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>Reads <c>GET /admin/power</c> on the gateway and applies the PowerBudgets by <c>PUT /admin/power/domains</c>.</summary>
public sealed class HttpPowerStatusClient(HttpClient http) : IPowerStatusClient
{
    public async Task<IReadOnlyDictionary<string, LivePower>?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(new Uri("admin/power", UriKind.Relative), cancellationToken);
            if (!response.IsSuccessStatusCode)
                return null;
            using var json = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
            return json.RootElement.GetProperty("domains").EnumerateArray().ToDictionary(
                d => d.GetProperty("domain").GetString()!,
                d => new LivePower(d.GetProperty("drawWatts").GetDouble(), d.GetProperty("caps").EnumerateObject().Count(),
                    d.GetProperty("level").GetString()!, d.GetProperty("brakes").GetInt32())
                {
                    Instances = d.TryGetProperty("instances", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetInt32() : null,
                },
                StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public async Task<string?> ApplyAsync(IReadOnlyList<PowerDomainRequest> domains, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new
        {
            domains = domains.Select(d => new { name = d.Name, budgetWatts = d.BudgetWatts, nodes = d.Nodes, minimumGpuWatts = d.MinimumGpuWatts, headroomPercent = d.HeadroomPercent }),
        });
        try
        {
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PutAsync(new Uri("admin/power/domains", UriKind.Relative), content, cancellationToken);
            if (response.IsSuccessStatusCode)
                return null;
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            try
            {
                using var error = JsonDocument.Parse(text);
                return $"the control plane refused the domains ({(int)response.StatusCode}): {error.RootElement.GetProperty("error").GetProperty("message").GetString()}";
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return $"the control plane refused the domains ({(int)response.StatusCode})";
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return $"the control plane could not be reached: {ex.Message}";
        }
    }
}
