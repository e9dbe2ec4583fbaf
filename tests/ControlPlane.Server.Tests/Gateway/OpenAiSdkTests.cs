using ControlPlane.Testing;
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using ControlPlane.Server.Tests.Hosting;
using OpenAI;
using OpenAI.Chat;

namespace ControlPlane.Server.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class OpenAiSdkTests(GatewayFixture fixture)
{
    private OpenAIClientOptions Options => new() { Endpoint = new Uri(fixture.Host.BaseAddress, "/v1") };

    private ChatClient Chat => new(GatewayHost.Model, new ApiKeyCredential("unused"), Options);

    [Fact]
    public async Task CompleteChat_NonStreaming_ReturnsTextAndUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 7, Temperature = 0 };
        ChatCompletion completion = await Chat.CompleteChatAsync([new UserChatMessage("Say something")], options);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(GatewayHost.Model, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
#pragma warning disable OPENAI001 // the SDK marks ServiceTier as under evaluation; the field is in OpenAI's chat objects
        Assert.Equal("default", completion.ServiceTier?.ToString()); // the tier it was served in
#pragma warning restore OPENAI001
    }

    [Fact]
    public async Task CompleteChat_Streaming_DeliversOneUpdatePerTokenAndUsage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 9, Temperature = 0 };
        var text = "";
        var contentUpdates = 0;
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat.CompleteChatStreamingAsync([new UserChatMessage("Stream please")], options))
        {
            if (update.ContentUpdate.Count > 0 && update.ContentUpdate[0].Text.Length > 0)
            {
                contentUpdates++;
                text += update.ContentUpdate[0].Text;
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(9, contentUpdates);
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.NotNull(usage);
        Assert.Equal(9, usage.OutputTokenCount);

        // Greedy decoding is deterministic: the same request without streaming gives the same text.
        ChatCompletion whole = await Chat.CompleteChatAsync([new UserChatMessage("Stream please")], options);
        Assert.Equal(whole.Content[0].Text, text);
    }

    [Fact]
    public async Task CompleteChat_SeededSampling_IsReproducible()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 1, TopP = 0.9f };
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        options.Seed = 1234;
#pragma warning restore OPENAI001
        ChatCompletion a = await Chat.CompleteChatAsync([new UserChatMessage("seed")], options);
        ChatCompletion b = await Chat.CompleteChatAsync([new UserChatMessage("seed")], options);
        Assert.Equal(a.Content[0].Text, b.Content[0].Text);
    }

    /// <summary>
    /// The SDK keeps its legacy completions client internal, so completions go through the SDK's own
    /// client pipeline (its transport, authentication and retry policies) to <c>/v1/completions</c>.
    /// </summary>
    private async Task<PipelineResponse> SendCompletionAsync(object body, bool buffer)
    {
        var pipeline = new OpenAIClient(new ApiKeyCredential("unused"), Options).Pipeline;
        using var message = pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(fixture.Host.BaseAddress, "/v1/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromObjectAsJson(body));
        message.BufferResponse = buffer;
        await pipeline.SendAsync(message);
        Assert.Equal(200, message.Response!.Status);
        return message.ExtractResponse()!;
    }

    [Fact]
    public async Task Completions_NonStreamingThroughSdk_ReturnsTextCompletion()
    {
        using var response = await SendCompletionAsync(new { model = GatewayHost.Model, prompt = "Once upon a time", max_tokens = 5, temperature = 0 }, buffer: true);
        using var json = JsonDocument.Parse(response.Content);
        var root = json.RootElement;
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        Assert.Equal("length", root.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(5, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.NotEmpty(root.GetProperty("choices")[0].GetProperty("text").GetString()!);
    }

    [Fact]
    public async Task Completions_StreamingThroughSdk_EndsWithDone()
    {
        using var response = await SendCompletionAsync(new { model = GatewayHost.Model, prompt = "Count", max_tokens = 4, stream = true }, buffer: false);
        using var reader = new StreamReader(response.ContentStream!);
        var events = (await reader.ReadToEndAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToArray();
        Assert.Equal(4, chunks.Length);
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Models_ThroughSdk_ListsTheServedModel()
    {
        var models = new OpenAIClient(new ApiKeyCredential("unused"), Options).GetOpenAIModelClient();
        var list = await models.GetModelsAsync();
        Assert.Contains(list.Value, m => m.Id == GatewayHost.Model);
        var one = await models.GetModelAsync(GatewayHost.Model);
        Assert.Equal("controlplane", one.Value.OwnedBy);
    }
}
