using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Status;

/// <summary>Every query of the chart's Grafana dashboard names metrics that <c>/metrics</c> really exports.</summary>
public sealed partial class DashboardTests
{
    [Fact]
    public async Task EveryPanelQuery_NamesAnExportedMetric()
    {
        // A profile with a power model (the GPU power series), prompts of 50 tokens and more split when a prefill instance exists.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h200-torchsharp",
            ["ControlPlane:Disaggregation:MinPromptTokens"] = "50",
            ["ControlPlane:Migration:Enabled"] = "false",
        });
        // Every series the dashboard reads must exist: requests, a split and its handoff, a live migration.
        for (var i = 0; i < 5; i++)
            await CompleteAsync(host, "dashboard", 5);
        // A prompt of several blocks twice: the second finds it cached (the prefix cache's series).
        var conversation = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"c{i}"));
        await CompleteAsync(host, conversation, 2);
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // the engine publishes its blocks; the dispatcher's replica follows
        await CompleteAsync(host, conversation, 2);
        var instances = (await host.LoadsAsync()).Select(l => l.InstanceId).Order(StringComparer.Ordinal).ToArray();
        await PostAsync(host, $"/admin/models/{GatewayHost.Model}/roles?instance={Uri.EscapeDataString(instances[0])}&role=prefill");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the dispatchers' views are refreshed before their next decision
        await CompleteAsync(host, string.Join(' ', Enumerable.Range(0, 120).Select(i => $"w{i}")), 5);
        using var longRequest = new CancellationTokenSource();
        var running = CompleteAsync(host, "a long answer", 400, longRequest.Token);
        // Move it while it decodes: from whichever of the mixed instances holds it (load reports lag, so each is asked).
        var answers = new List<string>();
        for (var i = 0; i < 40 && !answers.Any(a => a.Contains("\"outcome\":\"committed\"", StringComparison.Ordinal)); i++)
        {
            var source = instances[1 + i % (instances.Length - 1)];
            var destination = instances[1 + (i + 1) % (instances.Length - 1)];
            using var moved = await host.Http.PostAsync(new Uri(
                $"/admin/models/{GatewayHost.Model}/migrations?source={Uri.EscapeDataString(source)}&destination={Uri.EscapeDataString(destination)}", UriKind.Relative), null);
            answers.Add(await moved.Content.ReadAsStringAsync());
            if (i % (instances.Length - 1) == instances.Length - 2)
                await Task.Delay(100);
        }
        Assert.True(answers.Any(a => a.Contains("\"outcome\":\"committed\"", StringComparison.Ordinal)), "no migration committed: " + string.Join(" | ", answers.TakeLast(3)));
        await longRequest.CancelAsync();
        try
        {
            await running;
        }
        catch (OperationCanceledException)
        {
        }
        var exported = new HashSet<string>(StringComparer.Ordinal);
        // The gauges read by callbacks are exported at scrape time; the first scrape may come before a collection.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            foreach (var line in (await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Split('\n'))
            {
                if (line.Length > 0 && line[0] != '#')
                    exported.Add(MetricName().Match(line).Value);
            }
            await Task.Delay(200);
        }

        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(DashboardPath()));
        var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.TryGetProperty("targets", out var targets) ? targets.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .Select(t => t.GetProperty("expr").GetString()!).ToArray();
        Assert.NotEmpty(queries);
        var named = queries.SelectMany(q => QueryMetric().Matches(q).Select(m => m.Value)).Distinct().ToArray();
        var missing = named.Where(n => !exported.Contains(n)).ToArray();
        Assert.True(missing.Length == 0,
            $"the dashboard queries metrics /metrics does not export: {string.Join(", ", missing)}; exported: {string.Join(", ", exported.Where(e => e.StartsWith("controlplane", StringComparison.Ordinal)).Order())}");
        Assert.True(queries.Length >= 10, $"the dashboard has {queries.Length} queries: it should cover the status page (requests, latency, instances, migrations, disaggregation, power)");
    }

    private static async Task CompleteAsync(GatewayHost host, string prompt, int maxTokens, CancellationToken cancellationToken = default)
    {
        using var content = new StringContent($$"""{"model":"{{GatewayHost.Model}}","prompt":"{{prompt}}","max_tokens":{{maxTokens}}}""", Encoding.UTF8, "application/json");
        using var response = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), content, cancellationToken);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    private static async Task PostAsync(GatewayHost host, string path)
    {
        using var response = await host.Http.PostAsync(new Uri(path, UriKind.Relative), null);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"controlplane_[a-zA-Z0-9_]+")]
    private static partial Regex QueryMetric();

    private static string DashboardPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
            dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("the repository root"), "charts", "controlplane", "dashboards", "controlplane.json");
    }
}
