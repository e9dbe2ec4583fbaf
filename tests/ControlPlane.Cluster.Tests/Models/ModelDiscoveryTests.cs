using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json;
using ControlPlane.Testing.Cluster;
using OpenAI;
using OpenAI.Chat;

namespace ControlPlane.Cluster.Tests.Models;

/// <summary>
/// A model the control process was not configured with (a ModelService applied after the gateway started): a worker
/// that runs it announces it, and the gateway lists and serves it, tokenizing with the model folder's own tokenizer,
/// which the worker hands over in the model's card.
/// </summary>
public class ModelDiscoveryTests
{
    private const string Late = "late-tiny";

    [Fact]
    public async Task WorkerWithAModelTheGatewayLacks_GatewayListsAndServesIt()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions { Workers = 1, InstancesPerWorker = 1 });
        var gateway = cluster.Control.BaseAddress;
        using var http = new HttpClient { BaseAddress = gateway };
        Assert.DoesNotContain(Late, await ModelIdsAsync(http));
        var missing = await http.PostAsJsonAsync("v1/chat/completions", new { model = Late, messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);

        cluster.Workers.Add(cluster.StartWorker("worker-1", extra: new Dictionary<string, string>
        {
            ["ControlPlane:Models:1:Name"] = Late,
            ["ControlPlane:Models:1:Engine"] = "torchsharp",
            ["ControlPlane:Models:1:Instances"] = "1",
            ["ControlPlane:Models:1:Path"] = "builtin:tiny-random",
            ["ControlPlane:Models:1:MaxContextTokens"] = "512",
            ["ControlPlane:Models:1:KvBlocks"] = "64",
        }));
        await cluster.Workers[^1].WaitReadyAsync(TimeSpan.FromSeconds(90));

        var listed = false;
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); !listed && DateTime.UtcNow < deadline; await Task.Delay(250))
            listed = (await ModelIdsAsync(http)).Contains(Late);
        Assert.True(listed, $"the gateway never listed {Late}");

        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(gateway, "v1") });
        var model = (await client.GetOpenAIModelClient().GetModelAsync(Late)).Value;
        Assert.Equal(Late, model.Id);
        var completion = (await client.GetChatClient(Late).CompleteChatAsync([new UserChatMessage("tell me about silos")],
            new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 })).Value;
        Assert.Equal(8, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 5, $"{completion.Usage.InputTokenCount} prompt tokens: the chat template and the byte tokenizer give more");
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        // The configured model is served as before.
        var sim = (await client.GetChatClient(LocalCluster.Model).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 4 })).Value;
        Assert.Equal(4, sim.Usage.OutputTokenCount);
    }

    private static async Task<List<string>> ModelIdsAsync(HttpClient http)
    {
        using var json = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        return [.. json.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
    }
}
