using System.Text.Json;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>Reads <c>GET /admin/power</c> on the gateway.</summary>
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
                    d.GetProperty("level").GetString()!, d.GetProperty("brakes").GetInt32()),
                StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
