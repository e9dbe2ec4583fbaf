using System.Net;
using System.Text;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Hosting;

/// <summary>SIGTERM on a gateway (what the host's StopAsync runs): not ready at once, new requests answered 503, short
/// streams finish, a stream past the grace ends with an error event and [DONE], never a reset.</summary>
public class GracefulShutdownTests
{
    private static HttpRequestMessage Stream(int maxTokens) => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = new StringContent($$"""{"model":"sim","stream":true,"max_tokens":{{maxTokens}},"ignore_eos":true,"messages":[{"role":"user","content":"go"}]}""",
            Encoding.UTF8, "application/json"),
    };

    [Fact]
    public async Task Stop_RunningStreamsFinishOrEndCleanly_NewRequestsAre503()
    {
        var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = TestProfile.SlowPath, // 50 ms steps
            ["ControlPlane:Gateway:ShutdownGrace"] = "00:00:03",
        });
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        // Short: 20 tokens, about 1 s. Long: 400 tokens, 20 s, past the 3 s grace.
        var shortResponse = await http.SendAsync(Stream(20), HttpCompletionOption.ResponseHeadersRead);
        var longResponse = await http.SendAsync(Stream(400), HttpCompletionOption.ResponseHeadersRead);
        var shortBody = shortResponse.Content.ReadAsStringAsync();
        var longBody = longResponse.Content.ReadAsStringAsync();
        await Task.Delay(200);

        var stopping = host.App.StopAsync();
        await Task.Delay(300);
        Assert.False(stopping.IsCompleted);
        var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var refused = await http.SendAsync(Stream(5));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("shutting down", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(refused.Headers.RetryAfter);

        var finished = await shortBody;
        Assert.Contains("\"finish_reason\":\"length\"", finished, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", finished, StringComparison.Ordinal);

        var cut = await longBody; // a reset would throw here
        Assert.Contains("shutting down", cut, StringComparison.Ordinal);
        Assert.Contains("\"error\"", cut, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", cut, StringComparison.Ordinal);
        await stopping;
        await host.App.DisposeAsync();
    }
}
