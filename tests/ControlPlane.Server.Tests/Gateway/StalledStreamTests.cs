using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ControlPlane.Grains;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>
/// A stream that goes silent is looked for on its instance (<c>Gateway:StallAfter</c>, one second here): a request its
/// instance no longer runs resumes and ends with the text of a run that lost nothing; requests that wait their turn in
/// a queue, silent as long, are left alone.
/// </summary>
public partial class StalledStreamTests
{
    [Fact]
    public async Task RequestItsInstanceDropped_ResumesAndEndsWithTheSameText()
    {
        // A model of its own: the process's meters also count the other tests' resumes.
        var model = $"stall-{Guid.NewGuid():N}"[..16];
        await using var host = await StartAsync(model, instances: 2, kvBlocks: 256, TestProfile.SlowPath);
        var body = $$"""{"model":"{{model}}","max_tokens":60,"temperature":0,"stream":true,"prompt":"tell me about silo seven"}""";
        var baseline = await ReadAsync(await PostAsync(host, body));

        using var response = await PostAsync(host, body);
        var id = response.Headers.GetValues("X-Request-Id").Single();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        for (var events = 0; events < 5;)
            events += ReadEvent(await reader.ReadLineAsync(), text) is not null ? 1 : 0;
        // Its instance forgets it, without a word to the gateway (as a bug, or a lost batch of chunks, would).
        var dropped = 0;
        for (var i = 0; i < 2; i++)
            dropped += await host.Grains.GetGrain<IInstanceGrain>($"{GatewayHost.Pod}/{model}/{i}").AbortAsync(id) ? 1 : 0;
        Assert.Equal(1, dropped);

        var finish = await ReadRestAsync(reader, text).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(baseline.Text, text.ToString());
        Assert.Equal("length", finish);
        Assert.Equal(1, Resumes(await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), model, "stalled"));
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task RequestsWaitingInTheQueue_AreNotResumed()
    {
        var model = $"queue-{Guid.NewGuid():N}"[..16];
        // 40 blocks hold two of these at once (as in OverloadTests): the others wait silent, seconds, for their turn (ten
        // requests: five turns of about 1.2 s, so that some wait well past the one-second look whatever the machine's load).
        await using var host = await StartAsync(model, instances: 1, kvBlocks: 40, TestProfile.Path);
        var body = $$"""{"model":"{{model}}","max_tokens":300,"ignore_eos":true,"stream":true,"prompt":"{{string.Join(' ', Enumerable.Repeat("the", 200))}}"}""";
        var runs = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            // The longest silence of the stream: before its first event (queued) or between two (preempted, queued again).
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var response = await PostAsync(host, body);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var text = new StringBuilder();
            var (longest, last) = (TimeSpan.Zero, TimeSpan.Zero);
            string? finish = null;
            while (await reader.ReadLineAsync() is { } line && line != "data: [DONE]")
            {
                if (ReadEvent(line, text) is not { } reason)
                    continue;
                (longest, last) = (Max(longest, clock.Elapsed - last), clock.Elapsed);
                if (reason.Length > 0)
                    finish = reason;
            }
            return (Longest: longest, Finish: finish);
        }));

        Assert.All(runs, r => Assert.Equal("length", r.Finish));
        Assert.True(runs.Max(r => r.Longest) >= TimeSpan.FromSeconds(1.5),
            $"no stream was silent long enough to be looked at (longest silence {runs.Max(r => r.Longest).TotalSeconds:0.00} s), so the test proved nothing");
        Assert.Equal(0, Resumes(await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), model));
        await host.WaitIdleAsync();
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static Task<GatewayHost> StartAsync(string model, int instances, int kvBlocks, string profile) => GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["ControlPlane:Models:0:Name"] = model,
        ["ControlPlane:Models:0:Instances"] = instances.ToString(CultureInfo.InvariantCulture),
        ["ControlPlane:Models:0:KvBlocks"] = kvBlocks.ToString(CultureInfo.InvariantCulture),
        ["ControlPlane:Models:0:Profile"] = profile,
        ["ControlPlane:Migration:Enabled"] = "false",
        ["ControlPlane:Gateway:StallAfter"] = "00:00:01",
    });

    private static async Task<HttpResponseMessage> PostAsync(GatewayHost host, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/completions", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var response = await host.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static async Task<(string Text, string? Finish)> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var text = new StringBuilder();
            var finish = await ReadRestAsync(reader, text);
            return (text.ToString(), finish);
        }
    }

    /// <summary>Reads events to <c>[DONE]</c>; returns the finish reason. An error event fails the test.</summary>
    private static async Task<string?> ReadRestAsync(StreamReader reader, StringBuilder text)
    {
        string? finish = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line == "data: [DONE]")
                return finish;
            if (ReadEvent(line, text) is { Length: > 0 } reason)
                finish = reason;
        }
        throw new InvalidOperationException("the stream ended without [DONE]");
    }

    /// <summary>Adds an event's text; null for a line that is no event, "" for one with no finish reason, else the reason.</summary>
    private static string? ReadEvent(string? line, StringBuilder text)
    {
        if (line is null || !line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
            return null;
        var root = JsonDocument.Parse(line["data: ".Length..]).RootElement;
        if (root.TryGetProperty("error", out var error))
            throw new InvalidOperationException("the stream ended with an error: " + error.GetRawText());
        var choice = root.GetProperty("choices")[0];
        text.Append(choice.GetProperty("text").GetString());
        return choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : "";
    }

    private static double Resumes(string metrics, string model, string cause = "") =>
        ResumeSample().Matches(metrics)
            .Where(m => m.Groups["labels"].Value.Contains($"model=\"{model}\"", StringComparison.Ordinal)
                && m.Groups["labels"].Value.Contains("outcome=\"resumed\"", StringComparison.Ordinal)
                && m.Groups["labels"].Value.Contains(cause.Length == 0 ? "" : $"cause=\"{cause}\"", StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^controlplane_request_resumes_total\{(?<labels>[^}]*)\} (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex ResumeSample();
}
