using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Requests;
using ControlPlane.Server.Tests.Hosting;

namespace ControlPlane.Server.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class StreamingTests(GatewayFixture fixture)
{
    private static HttpRequestMessage Post(string body) => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
    };

    [Fact]
    public async Task Stream_Chat_EventsArriveOneAtATimeAsTheEngineSteps()
    {
        using var request = Post("""{"model":"sim","stream":true,"max_tokens":12,"messages":[{"role":"user","content":"tick"}]}""");
        using var response = await fixture.Host.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var arrivals = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        string? line;
        var done = false;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            if (line == "data: [DONE]")
            {
                done = true;
                break;
            }
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                arrivals.Add(clock.Elapsed);
        }
        Assert.True(done, "the stream must end with data: [DONE]");
        Assert.Equal(12, arrivals.Count);
        // Each decode step takes at least 4 ms in the test profile; events read as they come are spread out, not bunched at the end.
        Assert.True(arrivals[^1] - arrivals[0] >= TimeSpan.FromMilliseconds(11 * 4 * 0.8),
            $"12 events arrived within {(arrivals[^1] - arrivals[0]).TotalMilliseconds:F1} ms: they were buffered, not streamed");
    }

    [Fact]
    public async Task Stream_ClientDisconnects_RequestIsCancelledAndFreesItsBlocks()
    {
        // A client that goes away mid-stream: its pending read is cancelled and the connection closed, not drained.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = fixture.Host.BaseAddress };
        using var cancel = new CancellationTokenSource();
        using var request = Post("""{"model":"sim","stream":true,"max_tokens":400,"messages":[{"role":"user","content":"a long answer please"}]}""");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var requestId = response.Headers.GetValues("X-Request-Id").Single();
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        for (var events = 0; events < 3;)
        {
            if ((await reader.ReadLineAsync(cancel.Token))!.StartsWith("data: ", StringComparison.Ordinal))
                events++;
        }
        Assert.True(await fixture.Host.AnyRunningAsync(), "the request should be running on an instance while it streams");

        await cancel.CancelAsync();
        reader.Dispose();
        response.Dispose();

        await fixture.Host.WaitIdleAsync();
        var status = await fixture.Host.StatusAsync(requestId, RequestPhase.Cancelled);
        Assert.Equal(RequestPhase.Cancelled, status.Phase);
        Assert.Equal([RequestPhase.Queued, RequestPhase.Prefilling, RequestPhase.Decoding, RequestPhase.Cancelled], status.History);
    }

    [Fact]
    public async Task Answer_Finished_RequestGrainRecordsTheWholeLifecycle()
    {
        using var request = Post("""{"model":"sim","max_tokens":3,"service_tier":"priority","priority":7,"messages":[{"role":"user","content":"x"}]}""");
        using var response = await fixture.Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var status = await fixture.Host.StatusAsync(id, RequestPhase.Finished);
        Assert.Equal([RequestPhase.Queued, RequestPhase.Prefilling, RequestPhase.Decoding, RequestPhase.Finished], status.History);
        Assert.Equal(ServiceClass.Interactive, status.ServiceClass);
        Assert.Equal(7, status.Priority);
        Assert.Equal(3, status.CompletionTokens);
        Assert.Single(status.Instances);
        Assert.Contains("engine;dur=", response.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_StopString_EndsWithFinishReasonStop()
    {
        using var first = Post("""{"model":"sim","max_tokens":30,"temperature":0,"messages":[{"role":"user","content":"stop test"}]}""");
        using var whole = await fixture.Host.Http.SendAsync(first);
        var text = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        var stop = text.Substring(text.Length / 2, 3);

        using var second = Post(JsonSerializer.Serialize(new { model = "sim", max_tokens = 30, temperature = 0, stop, messages = new[] { new { role = "user", content = "stop test" } } }));
        using var cut = await fixture.Host.Http.SendAsync(second);
        var choice = JsonDocument.Parse(await cut.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("message").GetProperty("content").GetString());
    }
}
