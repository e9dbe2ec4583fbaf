using System.Net;
using ControlPlane.Server.Tests.Hosting;

namespace ControlPlane.Server.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class OperationsEndpointsTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Health_And_Ready_Answer200()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Metrics_AfterARequest_ExposeOutcomesLatenciesAndInstanceGauges()
    {
        var body = new StringContent("""{"model":"sim","max_tokens":4,"messages":[{"role":"user","content":"m"}]}""", System.Text.Encoding.UTF8, "application/json");
        (await fixture.Host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative), body)).EnsureSuccessStatusCode();
        var metrics = await fixture.Host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("controlplane_requests_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("outcome=\"finished\"", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_time_to_first_token_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Contains("le=\"0.005\"", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_time_per_output_token_seconds_count{", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_e2e_latency_seconds_sum{", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_queue_depth", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_instance_kv_usage{", metrics, StringComparison.Ordinal);
        Assert.Contains("instance=\"" + ControlPlane.Testing.GatewayHost.Pod + "/sim/3\"", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_instance_running_requests{", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_UnknownId_Returns404()
    {
        var response = await fixture.Host.Http.GetAsync(new Uri("/v1/models/nope", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("model_not_found", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
