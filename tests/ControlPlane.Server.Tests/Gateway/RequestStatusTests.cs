using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

public class RequestStatusTests
{
    [Fact]
    public async Task Status_IsShownToItsSenderOnly()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Auth:Mode"] = "Keys",
            ["ControlPlane:Auth:Tenants:0:Name"] = "a",
            ["ControlPlane:Auth:Tenants:0:KeyHashes:0"] = TenantDirectory.Hash("sk-aaaa-1111"),
            ["ControlPlane:Auth:Tenants:1:Name"] = "b",
            ["ControlPlane:Auth:Tenants:1:KeyHashes:0"] = TenantDirectory.Hash("sk-bbbb-2222"),
        });
        using var post = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"model":"sim","max_tokens":3,"prompt":"status"}""", Encoding.UTF8, "application/json"),
        };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-aaaa-1111");
        var answer = await host.Http.SendAsync(post);
        var id = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        async Task<HttpResponseMessage> Get(string key, string requestId)
        {
            using var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/requests/{requestId}");
            get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return await host.Http.SendAsync(get);
        }
        JsonElement status = default;
        for (var i = 0; i < 100; i++)
        {
            var mine = await Get("sk-aaaa-1111", id);
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
            status = JsonDocument.Parse(await mine.Content.ReadAsStringAsync()).RootElement;
            if (status.GetProperty("phase").GetString() == "finished")
                break;
            await Task.Delay(50);
        }
        Assert.Equal("finished", status.GetProperty("phase").GetString());
        Assert.Equal(3, status.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var theirs = await Get("sk-bbbb-2222", id);
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        Assert.Equal("request_not_found", JsonDocument.Parse(await theirs.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Get("sk-aaaa-1111", "cmpl-000000000000000000000000")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.GetAsync(new Uri($"/v1/requests/{id}", UriKind.Relative))).StatusCode);
    }
}
