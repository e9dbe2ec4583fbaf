using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Autoscaling;

/// <summary>
/// The gateway tells the model's scheduler the latencies it observed (with autoscaling on): a pool whose 90th percentile
/// of time to first token, or per output token, misses the model's objective gets one replica more than its usage calls
/// for; one that meets both keeps what its usage says.
/// </summary>
public sealed class ObservedLatencyTests
{
    private const int Requests = 25;

    /// <summary>Short completions one after another: their latencies reach the scheduler with the gateway's next report.</summary>
    private static async Task SendAsync(GatewayHost host, string model, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var body = new StringContent($$"""{"model":"{{model}}","prompt":"request {{i}}","max_tokens":6,"ignore_eos":true}""", Encoding.UTF8, "application/json");
            Assert.Equal(HttpStatusCode.OK, (await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), body)).StatusCode);
        }
    }

    [Theory]
    [InlineData(1.0, 60_000.0, true)]  // every first token later than 1 ms
    [InlineData(60_000.0, 1.0, true)]  // every token after it later than 1 ms (4 ms steps)
    [InlineData(60_000.0, 60_000.0, false)]
    public async Task AMissedObjective_AddsAReplica(double sloTtftMs, double sloTpotMs, bool grows)
    {
        // A model of its own: the process's meters and recent requests also hold the other tests'.
        var model = $"slo-{Guid.NewGuid():N}"[..14];
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Name"] = model,
            ["ControlPlane:Models:0:Instances"] = "2",
            ["ControlPlane:Models:0:SloTtftMs"] = sloTtftMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ControlPlane:Models:0:SloTpotMs"] = sloTpotMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ControlPlane:Autoscale:Enabled"] = "true",
            ["ControlPlane:Autoscale:Period"] = "00:00:00.200",
            ["ControlPlane:Autoscale:ScaleUpWindow"] = "00:00:00.500",
        });
        await SendAsync(host, model, Requests);

        // The reports reach the scheduler within a period or two; the scale-up window holds the decision half a second.
        JsonElement decision = default;
        for (var i = 0; i < 100; i++)
        {
            decision = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{model}/autoscale", UriKind.Relative))).RootElement;
            if (decision.GetProperty("observed").GetProperty("requests").GetInt64() >= Requests && (!grows || decision.GetProperty("desired").GetInt32() == 3))
                break;
            await Task.Delay(100);
        }
        var observed = decision.GetProperty("observed");
        Assert.Equal(Requests, observed.GetProperty("requests").GetInt64());
        Assert.True(observed.GetProperty("ttft_p90_ms").GetDouble() > 1, decision.GetRawText());
        Assert.True(observed.GetProperty("tpot_p90_ms").GetDouble() > 1, decision.GetRawText());
        Assert.Equal(sloTtftMs, decision.GetProperty("slo").GetProperty("ttft_ms").GetDouble());
        if (!grows)
            await Task.Delay(1000); // as long again as a miss took to show: the pool stays
        Assert.Equal(grows ? 3 : 2, JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{model}/autoscale", UriKind.Relative))).RootElement.GetProperty("desired").GetInt32());
    }

    [Fact]
    public async Task WithAutoscalingOff_TheStatusPageShowsEveryGatewaysLastMinute()
    {
        var model = $"lat-{Guid.NewGuid():N}"[..14];
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Name"] = model,
            ["ControlPlane:Autoscale:Period"] = "00:00:00.200",
        });
        await SendAsync(host, model, Requests);

        JsonElement cluster = default;
        for (var i = 0; i < 100; i++)
        {
            using var status = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/status.json", UriKind.Relative)));
            cluster = status.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == model).GetProperty("cluster").Clone();
            if (cluster.GetProperty("requests").GetInt64() == Requests)
                break;
            await Task.Delay(100);
        }
        Assert.Equal(Requests, cluster.GetProperty("requests").GetInt64());
        Assert.True(cluster.GetProperty("ttft_p90_ms").GetDouble() > 0, cluster.GetRawText());
        Assert.True(cluster.GetProperty("tpot_p90_ms").GetDouble() > 0, cluster.GetRawText());
        Assert.Contains("all gateways, last minute", await host.Http.GetStringAsync(new Uri("/status", UriKind.Relative)), StringComparison.Ordinal);
        // The planner is off: it decides nothing, whatever it hears.
        using var decision = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{model}/autoscale", UriKind.Relative)));
        Assert.Equal(JsonValueKind.Null, decision.RootElement.GetProperty("desired").ValueKind);
    }
}
