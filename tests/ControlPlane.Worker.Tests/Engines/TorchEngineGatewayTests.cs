using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Testing;
using Microsoft.Extensions.DependencyInjection;
using ControlPlane.Worker.Engines;

namespace ControlPlane.Worker.Tests.Engines;

public class TorchEngineGatewayTests
{
    [Fact]
    public async Task ControlHost_WithoutTheTorchBackend_ServesTheSimulatedModelAndRunsNoTorchEngine()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:1:Name"] = "tiny",
            ["ControlPlane:Models:1:Engine"] = "torchsharp",
            ["ControlPlane:Models:1:Path"] = "builtin:tiny-random",
        }, waitReady: false);
        var engines = host.App.Services.GetRequiredService<ControlPlane.Grains.Engines.EngineHost>().Runners;
        Assert.DoesNotContain(engines, r => r.Descriptor.Model == "tiny");
        Assert.Contains(engines, r => r.Descriptor.Model == GatewayHost.Model);
        using var models = await host.Http.GetAsync(new Uri("/v1/models/tiny", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, models.StatusCode); // the gateway still knows the model: engines elsewhere serve it
        using var ready = await host.Http.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode); // and none runs anywhere here, which readiness says
        Assert.Contains("tiny", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_OnTheTorchSharpEngine_StreamsRealTokensBesideSimulatedModels()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:1:Name"] = "tiny",
            ["ControlPlane:Models:1:Engine"] = "torchsharp",
            ["ControlPlane:Models:1:Path"] = "builtin:tiny-random",
            ["ControlPlane:Models:1:ChatTemplate"] = "llama3",
            ["ControlPlane:Models:1:MaxContextTokens"] = "1024",
        }, [new TorchEngineBackend()]);
        var body = """{"model":"tiny","max_tokens":12,"temperature":0,"ignore_eos":true,"messages":[{"role":"user","content":"Hi"}]}""";
        using var first = await host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var usage = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
        Assert.Equal(12, usage.GetProperty("completion_tokens").GetInt32());
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 20, "the llama3 template and byte tokens make a prompt of dozens of tokens");

        // The same prompt again: the engine reuses the first request's cached prefix blocks.
        using var second = await host.Http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        var details = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").GetProperty("prompt_tokens_details");
        Assert.True(details.GetProperty("cached_tokens").GetInt32() >= 16, "a repeated prompt should hit the prefix cache");

        using var error = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent("""{"model":"tiny","prompt":[1,2,300000]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("vocabulary", await error.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await host.WaitIdleAsync();
    }
}
