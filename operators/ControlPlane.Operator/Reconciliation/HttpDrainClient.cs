namespace ControlPlane.Operator.Reconciliation;

/// <summary>Drains through the gateway's admin endpoint, <c>POST /admin/models/{model}/drain</c>.</summary>
public sealed class HttpDrainClient(HttpClient http) : IDrainClient
{
    public async Task DrainAsync(string @namespace, string model, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri($"admin/models/{Uri.EscapeDataString(model)}/drain", UriKind.Relative), null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }
}
