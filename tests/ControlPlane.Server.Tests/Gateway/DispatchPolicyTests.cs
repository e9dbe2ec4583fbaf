using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>
/// A model's own dispatch policy (<c>Models:N:DispatchPolicy</c>, a ModelService's <c>dispatch.policy</c>) places its
/// requests, whatever the gateway's <c>ControlPlane:Dispatch:Policy</c>; without one the gateway's does. The dispatcher
/// says which policy decided, and <c>/metrics</c> counts placements by it.
/// </summary>
public partial class DispatchPolicyTests
{
    [Theory]
    [InlineData("round-robin", "least-request", "round-robin")]
    [InlineData("least-request", "round-robin", "least-request")]
    [InlineData(null, "least-kv-usage", "least-kv-usage")]
    public async Task ModelsPolicy_PlacesItsRequests_ElseTheGateways(string? modelPolicy, string gatewayPolicy, string expected)
    {
        // A model of its own: the process's meters also count the other tests' placements.
        var name = $"dispatch-{Guid.NewGuid():N}"[..20];
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Name"] = name,
            ["ControlPlane:Models:0:Instances"] = "2",
            ["ControlPlane:Models:0:DispatchPolicy"] = modelPolicy,
            ["ControlPlane:Dispatch:Policy"] = gatewayPolicy,
        });
        for (var i = 0; i < 5; i++)
        {
            using var body = new StringContent($$"""{"model":"{{name}}","max_tokens":2,"prompt":"request {{i}}"}""", Encoding.UTF8, "application/json");
            Assert.Equal(HttpStatusCode.OK, (await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), body)).StatusCode);
        }

        var placed = Placements().Matches(await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)))
            .Where(m => m.Groups["model"].Value == name)
            .GroupBy(m => m.Groups["policy"].Value)
            .ToDictionary(g => g.Key, g => g.Sum(m => double.Parse(m.Groups["count"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal([expected], placed.Keys);
        Assert.Equal(5, placed[expected]);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData(null, false)]
    public async Task ModelsQueueLimit_RefusesBeyondIt_OverTheGateways(string? modelLimit, bool refuses)
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "1",
            ["ControlPlane:Models:0:KvBlocks"] = "40",
            ["ControlPlane:Models:0:DispatchQueueLimit"] = modelLimit,
            ["ControlPlane:Dispatch:QueueLimit"] = "256",
        });
        // 40 blocks hold two of these at once (as in OverloadTests), so the others wait in the instance's queue.
        var body = $$"""{"model":"sim","max_tokens":300,"ignore_eos":true,"prompt":"{{string.Join(' ', Enumerable.Repeat("the", 200))}}"}""";
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"))));
        var codes = responses.Select(r => r.StatusCode).ToArray();
        Assert.All(codes, c => Assert.True(c is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {c}"));
        Assert.Contains(HttpStatusCode.OK, codes);
        Assert.Equal(refuses, codes.Contains(HttpStatusCode.TooManyRequests));
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task UnknownModelPolicy_IsAConfigurationErrorNamingTheKey()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(new Dictionary<string, string?> { ["ControlPlane:Models:0:DispatchPolicy"] = "fastest" }));
        Assert.Contains("ControlPlane:Models:0:DispatchPolicy 'fastest' is not a dispatch policy", error.ToString(), StringComparison.Ordinal);
    }

    // controlplane_dispatch_decisions_total{model="sim",otel_scope_name="ControlPlane",policy="round-robin"} 5 (labels in any order)
    [GeneratedRegex("""^controlplane_dispatch_decisions_total\{(?=[^}]*model="(?<model>[^"]*)")(?=[^}]*policy="(?<policy>[^"]*)")[^}]*\}\s+(?<count>[0-9.eE+]+)""", RegexOptions.Multiline)]
    private static partial Regex Placements();
}
