using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Hosting;
using ControlPlane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Server.Tests.Autoscaling;

/// <summary>
/// Scale from zero on loopback (simulated engine): a model with no instance holds a request at the gateway, its
/// scheduler's autoscaler asks for one, and once an instance starts (here added to the silo, as the operator's new
/// pod would join) the held request is served. Past the hold limit a request gets 503 with Retry-After.
/// </summary>
public sealed class ScaleFromZeroTests
{
    private static Task<GatewayHost> StartAsync(string hold) => GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["ControlPlane:Models:0:Instances"] = "0",
        ["ControlPlane:Autoscale:Enabled"] = "true",
        ["ControlPlane:Autoscale:Period"] = "00:00:00.200",
        ["ControlPlane:Gateway:HoldWhenNoInstance"] = hold,
    }, waitReady: false);

    [Fact]
    public async Task ARequestForAPoolAtZero_IsHeld_TheAutoscalerAsksForAnInstance_AndItIsServedOnceOneStarts()
    {
        await using var host = await StartAsync("00:00:30");
        var request = host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative),
            new StringContent($$"""{"model":"{{GatewayHost.Model}}","prompt":"wake up","max_tokens":8}""", Encoding.UTF8, "application/json"));

        // The scheduler hears of the held request and wants one instance.
        JsonElement decision = default;
        for (var i = 0; i < 100; i++)
        {
            decision = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{GatewayHost.Model}/autoscale", UriKind.Relative))).RootElement;
            if (decision.GetProperty("held").GetInt32() == 1 && decision.GetProperty("desired").ValueKind == JsonValueKind.Number && decision.GetProperty("desired").GetInt32() == 1)
                break;
            await Task.Delay(100);
        }
        Assert.Equal(1, decision.GetProperty("held").GetInt32());
        Assert.Equal(1, decision.GetProperty("desired").GetInt32());
        Assert.Equal(0, decision.GetProperty("instances").GetInt32());
        Assert.False(request.IsCompleted, "the request was answered while no instance existed");

        // An instance starts.
        var model = new ModelConfig { Name = GatewayHost.Model, Instances = 1, Profile = TestProfile.Path, MaxContextTokens = 512, KvBlocks = 256 };
        var engine = new SimulatedEngineBackend().CreateEngines(model, host.App.Services.GetRequiredService<ModelFolders>(), host.App.Services).Single();
        host.App.Services.GetRequiredService<EngineHost>().Add(new InstanceDescriptor
        {
            InstanceId = InstanceIds.Create(GatewayHost.Pod, GatewayHost.Model, 0), Model = GatewayHost.Model, Role = InstanceRole.Mixed,
            TotalKvBlocks = engine.Descriptor.TotalKvBlocks, KvBlockSize = engine.Descriptor.KvBlockSize, MaxContextTokens = engine.Descriptor.MaxContextTokens,
            Engine = engine.Descriptor.Backend, Host = GatewayHost.Pod,
        }, engine);

        using var response = await request.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(8, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        for (var i = 0; i < 50 && JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{GatewayHost.Model}/autoscale", UriKind.Relative))).RootElement.GetProperty("held").GetInt32() != 0; i++)
            await Task.Delay(100);
        Assert.Equal(0, JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/admin/models/{GatewayHost.Model}/autoscale", UriKind.Relative))).RootElement.GetProperty("held").GetInt32());
    }

    [Fact]
    public async Task NoInstanceWithinTheHoldLimit_Is503_WithRetryAfter()
    {
        await using var host = await StartAsync("00:00:01");
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative),
            new StringContent($$"""{"model":"{{GatewayHost.Model}}","prompt":"anyone?","max_tokens":8}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {started.Elapsed}: not held");
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("became ready", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
