using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Instances;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

public class AdminEndpointsTests
{
    [Fact]
    public async Task DrainModel_EveryInstanceStopsTakingRequests()
    {
        await using var host = await GatewayHost.StartAsync();
        var response = await host.Http.PostAsync(new Uri("/admin/models/sim/drain", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var drained = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("drained").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(4, drained.Length);

        for (var i = 0; i < 50 && (await host.LoadsAsync()).Any(l => l.Health == InstanceHealth.Ready); i++)
            await Task.Delay(50);
        Assert.All(await host.LoadsAsync(), l => Assert.Equal(InstanceHealth.Draining, l.Health));
        var refused = await host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative),
            new StringContent("""{"model":"sim","max_tokens":2,"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.PostAsync(new Uri("/admin/models/nope/drain", UriKind.Relative), null)).StatusCode);
    }
}
