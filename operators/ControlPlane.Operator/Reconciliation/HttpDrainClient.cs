using System.Text.Json;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Drains through the gateway's admin endpoints: <c>POST /admin/pods/{pod}/drain</c> for each pod, then
/// <c>GET /admin/models/{model}/instances</c> for what still runs on them.
/// </summary>
public sealed class HttpDrainClient(HttpClient http) : IDrainClient
{
    public async Task<int> DrainAsync(string @namespace, string model, IReadOnlyList<string> pods, CancellationToken cancellationToken)
    {
        foreach (var pod in pods)
        {
            using var response = await http.PostAsync(new Uri($"admin/pods/{Uri.EscapeDataString(pod)}/drain", UriKind.Relative), null, cancellationToken);
            response.EnsureSuccessStatusCode();
        }
        using var instances = await http.GetAsync(new Uri($"admin/models/{Uri.EscapeDataString(model)}/instances", UriKind.Relative), cancellationToken);
        instances.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await instances.Content.ReadAsStringAsync(cancellationToken));
        var named = pods.ToHashSet(StringComparer.Ordinal);
        return json.RootElement.GetProperty("data").EnumerateArray()
            .Where(i => named.Contains(i.GetProperty("pod").GetString() ?? ""))
            .Sum(i => i.GetProperty("running").GetInt32() + i.GetProperty("waiting").GetInt32());
    }

    public async Task ResumeAsync(string @namespace, IReadOnlyList<string> pods, CancellationToken cancellationToken)
    {
        foreach (var pod in pods)
        {
            using var response = await http.PostAsync(new Uri($"admin/pods/{Uri.EscapeDataString(pod)}/resume", UriKind.Relative), null, cancellationToken);
            response.EnsureSuccessStatusCode();
        }
    }
}
