using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>
/// A model's named priority classes (a ModelService's <c>priorityClasses</c>) through the real gateway: a request's
/// <c>priority_class</c> sets its service tier and priority, within its tenant's ceiling, and a bad one is refused by name.
/// </summary>
public class PriorityClassTests
{
    private const string KeyLow = "sk-low-0123456789";
    private const string KeyHigh = "sk-high-9876543210";

    private static Task<GatewayHost> StartAsync(string? defaultClass = null) => GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["ControlPlane:Models:0:PriorityClasses:0:Default"] = (defaultClass == "chat").ToString(),
        ["ControlPlane:Models:0:PriorityClasses:1:Default"] = (defaultClass == "bulk").ToString(),
        ["ControlPlane:Auth:Mode"] = "Keys",
        ["ControlPlane:Auth:Tenants:0:Name"] = "low",
        ["ControlPlane:Auth:Tenants:0:KeyHashes:0"] = TenantDirectory.Hash(KeyLow),
        ["ControlPlane:Auth:Tenants:0:MaxServiceTier"] = "default",
        ["ControlPlane:Auth:Tenants:1:Name"] = "high",
        ["ControlPlane:Auth:Tenants:1:KeyHashes:0"] = TenantDirectory.Hash(KeyHigh),
        ["ControlPlane:Auth:Tenants:1:MaxServiceTier"] = "priority",
        ["ControlPlane:Auth:Tenants:1:MaxPriority"] = "10",
        ["ControlPlane:Models:0:PriorityClasses:0:Name"] = "chat",
        ["ControlPlane:Models:0:PriorityClasses:0:ServiceClass"] = "interactive",
        ["ControlPlane:Models:0:PriorityClasses:0:Priority"] = "10",
        ["ControlPlane:Models:0:PriorityClasses:1:Name"] = "bulk",
        ["ControlPlane:Models:0:PriorityClasses:1:ServiceClass"] = "batch",
        ["ControlPlane:Models:0:PriorityClasses:1:Priority"] = "-5",
    });

    private static async Task<HttpResponseMessage> SendAsync(GatewayHost host, string key, string extra)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$"""{"model":"sim","max_tokens":2,"prompt":"classes"{{extra}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await host.Http.SendAsync(request);
    }

    /// <summary>The finished request's status as its tenant reads it (<c>GET /v1/requests/{id}</c>).</summary>
    private static async Task<JsonElement> StatusAsync(GatewayHost host, string key, HttpResponseMessage answer)
    {
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var id = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/requests/{id}");
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var status = await host.Http.SendAsync(get);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        return JsonDocument.Parse(await status.Content.ReadAsStringAsync()).RootElement;
    }

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

    [Fact]
    public async Task ANamedClass_SetsTheRequestsTierAndPriority()
    {
        await using var host = await StartAsync();
        var chat = await StatusAsync(host, KeyHigh, await SendAsync(host, KeyHigh, ""","priority_class":"chat" """));
        Assert.Equal(("priority", 10), (chat.GetProperty("service_tier").GetString(), chat.GetProperty("priority").GetInt32()));
        var bulk = await StatusAsync(host, KeyLow, await SendAsync(host, KeyLow, ""","priority_class":"bulk" """));
        Assert.Equal(("flex", -5), (bulk.GetProperty("service_tier").GetString(), bulk.GetProperty("priority").GetInt32()));
        var plain = await StatusAsync(host, KeyLow, await SendAsync(host, KeyLow, ""));
        Assert.Equal(("default", 0), (plain.GetProperty("service_tier").GetString(), plain.GetProperty("priority").GetInt32()));
    }

    [Fact]
    public async Task TheModelObject_ListsItsClasses()
    {
        await using var host = await StartAsync();
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models/sim");
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyLow);
        var model = JsonDocument.Parse(await (await host.Http.SendAsync(get)).Content.ReadAsStringAsync()).RootElement;
        var classes = model.GetProperty("priority_classes").EnumerateArray()
            .Select(c => (c.GetProperty("name").GetString(), c.GetProperty("service_tier").GetString(), c.GetProperty("priority").GetInt32())).ToArray();
        Assert.Equal([("bulk", "flex", -5), ("chat", "priority", 10)], classes);
    }

    [Fact]
    public async Task AChatAnswer_SaysTheTierItWasServedIn()
    {
        await using var host = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim","max_tokens":2,"priority_class":"chat","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyHigh);
        var answer = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("priority", JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("service_tier").GetString());
    }

    [Fact]
    public async Task TheDefaultClass_AppliesToRequestsThatAskForNothing()
    {
        await using var host = await StartAsync(defaultClass: "bulk");
        var plain = await StatusAsync(host, KeyLow, await SendAsync(host, KeyLow, ""));
        Assert.Equal(("flex", -5), (plain.GetProperty("service_tier").GetString(), plain.GetProperty("priority").GetInt32()));
        // A request that gives a tier or a priority itself is not put in the default class.
        var tiered = await StatusAsync(host, KeyHigh, await SendAsync(host, KeyHigh, ""","service_tier":"default" """));
        Assert.Equal(("default", 0), (tiered.GetProperty("service_tier").GetString(), tiered.GetProperty("priority").GetInt32()));
        var prioritized = await StatusAsync(host, KeyHigh, await SendAsync(host, KeyHigh, ""","priority":3"""));
        Assert.Equal(("default", 3), (prioritized.GetProperty("service_tier").GetString(), prioritized.GetProperty("priority").GetInt32()));
    }

    [Fact]
    public async Task ADefaultClassAboveTheTenantsCeiling_LeavesItsPlainRequestsAtItsOwnDefault()
    {
        await using var host = await StartAsync(defaultClass: "chat");
        var high = await StatusAsync(host, KeyHigh, await SendAsync(host, KeyHigh, ""));
        Assert.Equal(("priority", 10), (high.GetProperty("service_tier").GetString(), high.GetProperty("priority").GetInt32()));
        // Tenant low may not use the interactive tier: its plain requests are served at its own default, not refused.
        var low = await StatusAsync(host, KeyLow, await SendAsync(host, KeyLow, ""));
        Assert.Equal(("default", 0), (low.GetProperty("service_tier").GetString(), low.GetProperty("priority").GetInt32()));
        // Naming the class itself is still refused for it.
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(host, KeyLow, ""","priority_class":"chat" """)).StatusCode);
    }

    [Fact]
    public async Task AClassAboveTheTenantsCeiling_Is403NamingPriorityClass()
    {
        await using var host = await StartAsync();
        var refused = await SendAsync(host, KeyLow, ""","priority_class":"chat" """);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = await ErrorOf(refused);
        Assert.Equal("priority_class", error.GetProperty("param").GetString());
        Assert.Contains("priority_class 'chat'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(host, KeyLow, "")).StatusCode); // the tenant's other requests are served
    }

    [Theory]
    [InlineData(""","priority_class":"gold" """, "has no priority class 'gold' (its classes: bulk, chat)")]
    [InlineData(""","priority_class":"chat","priority":3""", "not both")]
    [InlineData(""","priority_class":"chat","service_tier":"flex" """, "not both")]
    [InlineData(""","priority_class":7""", "must be a non-empty string")]
    [InlineData(""","priority_class":"" """, "must be a non-empty string")]
    public async Task ABadClass_Is400NamingPriorityClass(string extra, string message)
    {
        await using var host = await StartAsync();
        var refused = await SendAsync(host, KeyHigh, extra);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = await ErrorOf(refused);
        Assert.Equal("priority_class", error.GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(host, KeyHigh, ""","priority_class":"chat" """)).StatusCode);
    }

    [Fact]
    public async Task LatencyMetrics_CarryTheServiceTier()
    {
        // A model name no other test uses: the meters are process-wide.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Name"] = "tiers-model",
            ["ControlPlane:Models:0:PriorityClasses:0:Name"] = "bulk",
            ["ControlPlane:Models:0:PriorityClasses:0:ServiceClass"] = "batch",
        });
        var answer = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative),
            new StringContent("""{"model":"tiers-model","max_tokens":3,"prompt":"tiers","priority_class":"bulk"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var lines = (await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Split('\n');
        foreach (var metric in new[] { "controlplane_time_to_first_token_seconds_count", "controlplane_time_per_output_token_seconds_count", "controlplane_e2e_latency_seconds_count" })
        {
            Assert.Contains(lines, l => l.StartsWith(metric, StringComparison.Ordinal) && l.Contains("model=\"tiers-model\"", StringComparison.Ordinal)
                && l.Contains("service_tier=\"flex\"", StringComparison.Ordinal));
        }
    }
}
