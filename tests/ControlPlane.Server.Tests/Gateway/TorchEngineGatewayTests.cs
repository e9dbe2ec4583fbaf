using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

public class TorchEngineGatewayTests
{
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
        });
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

        var error = await ErrorBody.PostAsync(host.Http, "/v1/completions", """{"model":"tiny","prompt":[1,2,300000]}""");
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        await host.WaitIdleAsync();
    }
}
