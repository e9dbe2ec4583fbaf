using System.Net;
using System.Text;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

public class OverloadTests
{
    private static StringContent LongRequest() =>
        new("""{"model":"sim","stream":true,"max_tokens":300,"messages":[{"role":"user","content":"keep busy"}]}""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task Post_GatewayAtItsInFlightLimit_Returns429WithRetryAfter()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Gateway:MaxInFlightRequests"] = "2",
            ["ControlPlane:Gateway:RetryAfterSeconds"] = "3",
            ["ControlPlane:Models:0:Profile"] = TestProfile.SlowPath, // the two busy requests last 15 s: the third surely finds them
        });
        var busy = new List<HttpResponseMessage>();
        for (var i = 0; i < 2; i++)
        {
            var response = await host.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = LongRequest() }, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            busy.Add(response);
        }
        var error = await Gateway.ErrorBody.PostAsync(host.Http, "/v1/chat/completions", """{"model":"sim","messages":[{"role":"user","content":"one more"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, error.Status);
        Assert.Equal("3", error.Response.Headers.RetryAfter?.ToString());
        Assert.Equal("rate_limit_exceeded", error.Type);

        foreach (var response in busy)
            response.Dispose();
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task Post_EveryInstanceQueueFull_Returns429AndAdmittedRequestsFinish()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "1",
            ["ControlPlane:Models:0:KvBlocks"] = "40",
            ["ControlPlane:Dispatch:QueueLimit"] = "1",
        });
        // 40 blocks hold two of these (prompt 200 + up to 300 output tokens need 32 blocks at the end), so the queue fills.
        var prompt = string.Join(' ', Enumerable.Repeat("the", 200));
        var body = $$"""{"model":"sim","max_tokens":300,"ignore_eos":true,"prompt":"{{prompt}}"}""";
        var tasks = Enumerable.Range(0, 12).Select(_ => host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"))).ToArray();
        var responses = await Task.WhenAll(tasks);
        var codes = responses.Select(r => r.StatusCode).ToArray();
        Assert.Contains(HttpStatusCode.TooManyRequests, codes);
        Assert.Contains(HttpStatusCode.OK, codes);
        Assert.All(codes, c => Assert.True(c is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {c}"));
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests), r => Assert.NotNull(r.Headers.RetryAfter));
        await host.WaitIdleAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Post_QueueBeyondTheClassTarget_IsRefusedAtOnceWithRetryAfterFromTheQueue(bool sloAdmission)
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "1",
            ["ControlPlane:Models:0:Profile"] = TestProfile.SlowPath, // 50 ms steps of at most 512 tokens: one 400-token prompt a step
            ["ControlPlane:Dispatch:SloAdmission:Standard"] = sloAdmission ? "00:00:00.300" : "00:00:00",
        });
        // Each prompt its own (a first word of its own): no prefix is cached between them.
        static StringContent Body(int i) => new($$"""{"model":"sim","max_tokens":4,"ignore_eos":true,"prompt":"w{{i}} {{string.Join(' ', Enumerable.Repeat("the", 399))}}"}""",
            Encoding.UTF8, "application/json");
        // One request first: the instance measures its prefill rate, and reports it.
        Assert.Equal(HttpStatusCode.OK, (await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), Body(-1))).StatusCode);
        for (var i = 0; i < 100 && (await host.LoadsAsync()).All(l => l.PrefillTokensPerSecond <= 0); i++)
            await Task.Delay(20);
        Assert.True((await host.LoadsAsync())[0].PrefillTokensPerSecond > 0);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var response = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), Body(i));
            return (response, started.Elapsed);
        }));
        var ok = responses.Count(r => r.response.StatusCode == HttpStatusCode.OK);
        var refused = responses.Where(r => r.response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(40, ok + refused.Count);
        if (!sloAdmission)
        {
            // Without it (the finding): everything queues, the last for seconds (40 prompts at one a 50 ms step).
            Assert.Equal(40, ok);
            Assert.True(responses.Max(r => r.Elapsed) > TimeSpan.FromSeconds(1.5));
            return;
        }
        // With a 300 ms target: a few fit (about six prompts' worth of queue, and one more each 50 ms step the 40 take to
        // arrive: on two busy cores that has been up to a second, 24 admitted), the rest are told at once when to come back.
        Assert.InRange(ok, 2, 30);
        Assert.NotEmpty(refused);
        foreach (var (response, elapsed) in refused)
        {
            using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("slo_unattainable", json.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.NotNull(response.Headers.RetryAfter?.Delta);
            Assert.True(elapsed < TimeSpan.FromSeconds(1.5), $"a refusal came after {elapsed}");
        }
        await host.WaitIdleAsync();
    }
}
