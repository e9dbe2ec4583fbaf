using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>API keys, tenants' ceilings and limits, and the admin credential, through the real gateway.</summary>
public class TenantTests
{
    private const string KeyA = "sk-tenant-a-0123456789";
    private const string KeyB = "sk-tenant-b-9876543210";
    private const string AdminKey = "sk-admin-abcdefabcdef";

    private static Task<GatewayHost> StartAsync(bool withAdminKey = true, string mode = "Keys", string? slow = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ControlPlane:Auth:Mode"] = mode,
            ["ControlPlane:Auth:Tenants:0:Name"] = "a",
            ["ControlPlane:Auth:Tenants:0:KeyHashes:0"] = TenantDirectory.Hash(KeyA),
            ["ControlPlane:Auth:Tenants:0:RequestsPerMinute"] = "3",
            ["ControlPlane:Auth:Tenants:0:MaxServiceTier"] = "default",
            ["ControlPlane:Auth:Tenants:1:Name"] = "b",
            ["ControlPlane:Auth:Tenants:1:KeyHashes:0"] = TenantDirectory.Hash(KeyB),
            ["ControlPlane:Auth:Tenants:1:MaxServiceTier"] = "priority",
            ["ControlPlane:Auth:Tenants:1:MaxPriority"] = "10",
            ["ControlPlane:Auth:Tenants:1:MaxConcurrentRequests"] = "2",
            ["ControlPlane:Auth:Tenants:1:TokensPerMinute"] = "400",
        };
        if (withAdminKey)
            settings["ControlPlane:Auth:AdminKeyHashes:0"] = TenantDirectory.Hash(AdminKey);
        if (slow is not null)
            settings["ControlPlane:Models:0:Profile"] = slow;
        // The anonymous tenant as shipped (test hosts otherwise let it claim any class and priority).
        settings["ControlPlane:Auth:Anonymous:MaxServiceTier"] = "default";
        settings["ControlPlane:Auth:Anonymous:MaxPriority"] = "0";
        return GatewayHost.StartAsync(settings);
    }

    private static HttpRequestMessage Chat(string? key, string extra = "", int maxTokens = 4, bool stream = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"sim","max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]{{extra}}}""",
                Encoding.UTF8, "application/json"),
        };
        if (key is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
    }

    [Fact]
    public async Task Keys_MissingOrWrong_Are401_ValidIsServedWithRateLimitHeaders()
    {
        await using var host = await StartAsync();
        var missing = await host.Http.SendAsync(Chat(null));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("missing_api_key", (await ErrorOf(missing)).GetProperty("code").GetString());

        var wrong = await host.Http.SendAsync(Chat("sk-not-a-real-key-123456"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        var message = (await ErrorOf(wrong)).GetProperty("message").GetString()!;
        Assert.Contains("sk-****3456", message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real", message, StringComparison.Ordinal);

        var models = await host.Http.GetAsync(new Uri("/v1/models", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);

        var ok = await host.Http.SendAsync(Chat(KeyA));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("3", ok.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("2", ok.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.NotEmpty(ok.Headers.GetValues("x-ratelimit-reset-requests").Single());
    }

    [Fact]
    public async Task Ceilings_TierOrPriorityAboveTheTenants_Are403NamingTheField()
    {
        await using var host = await StartAsync();
        var tier = await host.Http.SendAsync(Chat(KeyA, ""","service_tier":"priority" """));
        Assert.Equal(HttpStatusCode.Forbidden, tier.StatusCode);
        Assert.Equal("service_tier", (await ErrorOf(tier)).GetProperty("param").GetString());

        var priority = await host.Http.SendAsync(Chat(KeyA, ""","priority":1000000"""));
        Assert.Equal(HttpStatusCode.Forbidden, priority.StatusCode);
        Assert.Equal("priority", (await ErrorOf(priority)).GetProperty("param").GetString());

        // Tenant b may use both, within its own ceiling.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(KeyB, ""","service_tier":"priority","priority":10"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Chat(KeyB, ""","priority":11"""))).StatusCode);
    }

    [Fact]
    public async Task OpenMode_AnonymousCaller_IsServedAtTheStandardClassOnly()
    {
        await using var host = await StartAsync(mode: "Open");
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Chat(null, ""","priority":1000000"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Chat(null, ""","service_tier":"priority" """))).StatusCode);
        // An unknown key is no key (OpenAI clients always send one); a tenant's key is that tenant, with its ceiling.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat("EMPTY"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(Chat("EMPTY", ""","service_tier":"priority" """))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(KeyB, ""","service_tier":"priority" """))).StatusCode);
    }

    [Fact]
    public async Task RequestsPerMinute_Exceeded_Is429WithRetryAfterAndHeaders()
    {
        await using var host = await StartAsync();
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(KeyA))).StatusCode);
        var limited = await host.Http.SendAsync(Chat(KeyA));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("rate_limit_requests", (await ErrorOf(limited)).GetProperty("code").GetString());
        Assert.Equal("0", limited.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        // One request refills in 20 s at 3 a minute: the client is told about that, not 1 s.
        var retry = limited.Headers.RetryAfter!.Delta!.Value;
        Assert.InRange(retry.TotalSeconds, 15, 21);
        // Another tenant is not limited by a's limit.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(KeyB))).StatusCode);
    }

    [Fact]
    public async Task TokensPerMinute_ARequestBeyondItIs400_AndSpentTokensAre429()
    {
        await using var host = await StartAsync();
        // b: 400 tokens a minute; a request reserves its prompt and max_tokens, so one of 450 can never pass.
        var tooBig = await host.Http.SendAsync(Chat(KeyB, maxTokens: 450));
        Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
        Assert.Equal("max_tokens", (await ErrorOf(tooBig)).GetProperty("param").GetString());
        var spent = 0;
        HttpResponseMessage response;
        do
        {
            response = await host.Http.SendAsync(Chat(KeyB, maxTokens: 100));
            spent++;
        }
        while (response.StatusCode == HttpStatusCode.OK && spent < 20);
        Assert.InRange(spent, 2, 19);
        // Unused completion tokens come back at each end (a simulated chat stops early or not), so the count varies;
        // the limit must bite within the minute's budget.
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("rate_limit_tokens", (await ErrorOf(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task ConcurrentRequests_BeyondTheLimit_Are429UntilOneEnds()
    {
        await using var host = await StartAsync(slow: TestProfile.SlowPath);
        var open = new List<HttpResponseMessage>();
        for (var i = 0; i < 2; i++)
        {
            var r = await host.Http.SendAsync(Chat(KeyB, maxTokens: 150, stream: true), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            open.Add(r);
        }
        var third = await host.Http.SendAsync(Chat(KeyB, maxTokens: 4));
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("rate_limit_concurrency", (await ErrorOf(third)).GetProperty("code").GetString());
        open[0].Dispose(); // the client goes away: the request is cancelled and its slot comes back
        var served = false;
        for (var i = 0; i < 50 && !served; i++)
        {
            served = (await host.Http.SendAsync(Chat(KeyB, maxTokens: 2))).StatusCode == HttpStatusCode.OK;
            if (!served)
                await Task.Delay(100);
        }
        Assert.True(served);
        open[1].Dispose();
    }

    [Fact]
    public async Task Admin_WithAdminKeysConfigured_NeedsTheAdminKey()
    {
        await using var host = await StartAsync();
        using var none = new HttpRequestMessage(HttpMethod.Post, "/admin/models/sim/drain");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Http.SendAsync(none)).StatusCode);
        using var tenant = new HttpRequestMessage(HttpMethod.Post, "/admin/models/sim/drain");
        tenant.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyB);
        var refused = await host.Http.SendAsync(tenant);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("admin_only", (await ErrorOf(refused)).GetProperty("code").GetString());
        using var admin = new HttpRequestMessage(HttpMethod.Get, "/admin/models/sim/instances");
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(admin)).StatusCode);
        // Every instance still takes requests: nothing was drained by the refused calls.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.SendAsync(Chat(KeyA))).StatusCode);
    }

    [Fact]
    public async Task Admin_WithoutAdminKeys_RefusesACrossOriginPage_AndDrainHasAResume()
    {
        await using var host = await StartAsync(withAdminKey: false, mode: "Open");
        // A web page elsewhere driving the browser of someone on this machine.
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/admin/models/sim/drain");
        crossSite.Headers.Add("Origin", "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Http.SendAsync(crossSite)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);

        // From loopback without an Origin (an operator's curl): drain, then resume.
        Assert.Equal(HttpStatusCode.Accepted, (await host.Http.PostAsync(new Uri("/admin/models/sim/drain", UriKind.Relative), null)).StatusCode);
        var drained = false;
        for (var i = 0; i < 50 && !drained; i++)
        {
            drained = (await host.Http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode == HttpStatusCode.ServiceUnavailable;
            await Task.Delay(50);
        }
        Assert.True(drained);
        var resume = await host.Http.PostAsync(new Uri("/admin/models/sim/resume", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        var served = false;
        for (var i = 0; i < 50 && !served; i++)
        {
            served = (await host.Http.SendAsync(Chat(null))).StatusCode == HttpStatusCode.OK;
            if (!served)
                await Task.Delay(100);
        }
        Assert.True(served);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
    }
}
