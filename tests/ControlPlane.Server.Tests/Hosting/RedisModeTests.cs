using ControlPlane.Testing;
using ControlPlane.Grains;
using System.Text;
using System.Text.Json;
using ControlPlane.Requests;
using StackExchange.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Server.Tests.Hosting;

public class RedisModeTests
{
    [Fact]
    public async Task RedisMode_ServesRequestsWithMembershipAndRequestStateInRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        string requestId;
        await using (var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Cluster:Mode"] = "Redis",
            ["ControlPlane:Cluster:Redis"] = redis.Configuration,
            ["ControlPlane:Cluster:ClusterId"] = "redis-test",
        }))
        {
            var response = await host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative),
                new StringContent("""{"model":"sim","max_tokens":5,"messages":[{"role":"user","content":"persist me"}]}""", Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            requestId = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            Assert.Equal(RequestPhase.Finished, (await host.StatusAsync(requestId, RequestPhase.Finished)).Phase);

            // Its sender reads its status back; the silo's ports listen on the advertised address, not every interface.
            var shown = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/v1/requests/{requestId}", UriKind.Relative))).RootElement;
            Assert.Equal("finished", shown.GetProperty("phase").GetString());
            Assert.Equal(5, shown.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            var siloPort = int.Parse(host.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["ControlPlane:Cluster:SiloPort"]!, System.Globalization.CultureInfo.InvariantCulture);
            var listeners = System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Where(l => l.Port == siloPort).ToArray();
            Assert.NotEmpty(listeners);
            Assert.All(listeners, l => Assert.Equal(System.Net.IPAddress.Loopback, l.Address));
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var keys = connection.GetServer(connection.GetEndPoints()[0]).Keys(pattern: "*").Select(k => k.ToString()).ToArray();
        Assert.Contains(keys, k => k.Contains("redis-test", StringComparison.Ordinal)); // the membership table
        var stateKey = Assert.Single(keys, k => k.Contains(requestId, StringComparison.Ordinal)); // the request grain's state
        // It expires a day after its last write (Cluster:RequestStateTtl), not never.
        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(stateKey);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromHours(23), TimeSpan.FromDays(1));

        // A new silo on the same Redis reads the request's state back: it outlives the process that served it.
        await using var restarted = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Cluster:Mode"] = "Redis",
            ["ControlPlane:Cluster:Redis"] = redis.Configuration,
            ["ControlPlane:Cluster:ClusterId"] = "redis-test",
        });
        var status = await restarted.Grains.GetGrain<IRequestGrain>(requestId).GetStatusAsync();
        Assert.Equal(RequestPhase.Finished, status.Phase);
        Assert.Equal(5, status.CompletionTokens);
    }

    /// <summary>
    /// Redis down mid-load, then back empty: every answer ends when its last token is sent (state writes retry behind
    /// it), requests keep being served, and the host still stops cleanly.
    /// </summary>
    [Fact]
    public async Task RedisOutage_AnswersDoNotWaitOnStateWrites_AndTheHostStillStops()
    {
        var redis = await RedisServer.StartAsync();
        var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Cluster:Mode"] = "Redis",
            ["ControlPlane:Cluster:Redis"] = redis.Configuration + ",connectTimeout=500,syncTimeout=1000,asyncTimeout=1000,abortConnect=false",
            ["ControlPlane:Cluster:ClusterId"] = "redis-outage",
        });
        async Task<TimeSpan> Ask(int i)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var response = await host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative),
                new StringContent($$"""{"model":"sim","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"outage {{i}}"}]}""", Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
            return watch.Elapsed;
        }
        Assert.True(await Ask(-1) < TimeSpan.FromSeconds(5));
        await redis.StopAsync();
        var during = await Task.WhenAll(Enumerable.Range(0, 20).Select(Ask));
        // Before: each response stayed open after [DONE] while its state write waited (p50 15 s).
        Assert.True(during.Max() < TimeSpan.FromSeconds(5), $"slowest answer during the outage: {during.Max()}");

        await redis.RestartAsync(); // back, empty
        var after = await Task.WhenAll(Enumerable.Range(100, 10).Select(Ask));
        Assert.True(after.Max() < TimeSpan.FromSeconds(5), $"slowest answer after Redis came back: {after.Max()}");

        // Membership recovers: the table is re-created with this silo's row.
        var recovery = host.App.Services.GetRequiredService<ControlPlane.Server.Hosting.MembershipRecovery>();
        for (var i = 0; i < 100 && recovery.Recoveries == 0; i++)
            await Task.Delay(100);
        Assert.True(recovery.Recoveries >= 1, "the membership table was not re-created");
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            Assert.Contains(connection.GetServer(connection.GetEndPoints()[0]).Keys(pattern: "*members*").Select(k => k.ToString()), k => k.Contains("redis-outage", StringComparison.Ordinal));

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            await host.App.StopAsync(timeout.Token);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(25), $"the host took {stopping.Elapsed} to stop");
        await host.App.DisposeAsync();
        await redis.DisposeAsync();
    }
}
