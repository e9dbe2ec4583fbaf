using ControlPlane.Testing;
using ControlPlane.Grains;
using System.Text;
using System.Text.Json;
using ControlPlane.Requests;
using StackExchange.Redis;

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
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var keys = connection.GetServer(connection.GetEndPoints()[0]).Keys(pattern: "*").Select(k => k.ToString()).ToArray();
        Assert.Contains(keys, k => k.Contains("redis-test", StringComparison.Ordinal)); // the membership table
        Assert.Single(keys, k => k.Contains(requestId, StringComparison.Ordinal)); // the request grain's state

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
}
