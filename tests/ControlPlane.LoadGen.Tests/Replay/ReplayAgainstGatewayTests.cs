using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Testing;

namespace ControlPlane.LoadGen.Tests.Replay;

public class ReplayAgainstGatewayTests
{
    [Fact]
    public async Task Replay_AzureSliceAgainstRealGateway_ReportCountsAddUp()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:MaxContextTokens"] = "8192",
            ["ControlPlane:Models:0:KvBlocks"] = "8192",
        });
        var trace = new TraceShaping { MaxRequests = 30, Speedup = 20 }.Apply(TraceFiles.Read(Bundled.AzureConversation))
            .Select(r => r with { OutputTokens = Math.Min(r.OutputTokens, 40) }).ToArray();
        var output = Path.Combine(Path.GetTempPath(), $"replay-test-{Guid.NewGuid():N}");
        var options = new ControlPlane.LoadGen.Replay.ReplayOptions { Endpoint = host.BaseAddress, Model = GatewayHost.Model };

        var exit = await ReplayCommand.RunAsync("azure conv slice", trace, options, new Slo(10_000, 1_000), output, CancellationToken.None);

        Assert.Equal(0, exit);
        var report = System.Text.Json.JsonSerializer.Deserialize<ReplayReport>(await File.ReadAllTextAsync(Path.Combine(output, "report.json")), ReportJson.Compact)!;
        Assert.Equal(30, report.Sent);
        Assert.Equal(report.Sent, report.Succeeded + report.Failed);
        Assert.Equal(0, report.Failed);
        Assert.Equal(trace.Sum(r => (long)r.OutputTokens), report.OutputTokens);
        Assert.Equal(trace.Sum(r => (long)r.InputTokens), report.InputTokens);
        Assert.Equal(30, report.MetSlo);
        Assert.Null(report.EnergyPerOutputTokenJoules); // the test profile models no power
        Assert.Equal(30, report.TimeToFirstTokenMs.Count);
        Assert.True(report.TimeToFirstTokenMs.P50 > 0 && report.TimeToFirstTokenMs.P50 <= report.EndToEndMs.P50);
        Assert.Equal(30, File.ReadAllLines(Path.Combine(output, "requests.jsonl")).Length);
        foreach (var png in new[] { "cdf-ttft.png", "cdf-tpot.png", "cdf-e2e.png", "timeline.png" })
            Assert.True(new FileInfo(Path.Combine(output, png)).Length > 1000, $"{png} should be a real plot");
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task Replay_AgainstModelledGpus_ReportsEnergyPerOutputToken()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp", // a power model: answers carry their energy
            ["ControlPlane:Models:0:MaxContextTokens"] = "8192",
            ["ControlPlane:Models:0:KvBlocks"] = "8192",
        });
        var trace = new TraceShaping { MaxRequests = 8, Speedup = 20 }.Apply(TraceFiles.Read(Bundled.AzureConversation))
            .Select(r => r with { OutputTokens = Math.Min(r.OutputTokens, 20) }).ToArray();
        var output = Path.Combine(Path.GetTempPath(), $"replay-energy-{Guid.NewGuid():N}");
        var options = new ControlPlane.LoadGen.Replay.ReplayOptions { Endpoint = host.BaseAddress, Model = GatewayHost.Model };
        Assert.Equal(0, await ReplayCommand.RunAsync("azure conv slice", trace, options, new Slo(10_000, 1_000), output, CancellationToken.None));
        var report = System.Text.Json.JsonSerializer.Deserialize<ReplayReport>(await File.ReadAllTextAsync(Path.Combine(output, "report.json")), ReportJson.Compact)!;
        Assert.NotNull(report.EnergyPerOutputTokenJoules);
        Assert.InRange(report.EnergyPerOutputTokenJoules.Value, 0.01, 20);
        Assert.Contains("J per output token", await File.ReadAllTextAsync(Path.Combine(output, "report.md")), StringComparison.Ordinal);
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task Replay_WithPriorityClasses_SendsEachRequestsClass_AndReportsByClass()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:MaxContextTokens"] = "8192",
            ["ControlPlane:Models:0:KvBlocks"] = "8192",
            ["ControlPlane:Models:0:PriorityClasses:0:Name"] = "chat",
            ["ControlPlane:Models:0:PriorityClasses:0:ServiceClass"] = "interactive",
            ["ControlPlane:Models:0:PriorityClasses:1:Name"] = "bulk",
            ["ControlPlane:Models:0:PriorityClasses:1:ServiceClass"] = "batch",
        });
        var trace = new TraceShaping { MaxRequests = 24, Speedup = 20 }.Apply(TraceFiles.Read(Bundled.AzureConversation))
            .Select(r => r with { OutputTokens = Math.Min(r.OutputTokens, 10) }).ToArray();
        var output = Path.Combine(Path.GetTempPath(), $"replay-classes-{Guid.NewGuid():N}");
        // "gold" is not one of the model's classes: the gateway refuses those requests (400), which shows the field is sent.
        var options = new ControlPlane.LoadGen.Replay.ReplayOptions
        {
            Endpoint = host.BaseAddress, Model = GatewayHost.Model, PriorityClasses = ControlPlane.LoadGen.Replay.ReplayOptions.ParseClasses("chat=1,bulk=2,gold"),
        };
        Assert.Equal(1, await ReplayCommand.RunAsync("azure conv slice", trace, options, new Slo(10_000, 1_000), output, CancellationToken.None)); // some failed
        // A class whose requests all failed has no latencies: NaN in memory, null in the file (numbers stay numbers for any reader).
        var json = await File.ReadAllTextAsync(Path.Combine(output, "report.json"));
        Assert.DoesNotContain("NaN", json, StringComparison.Ordinal);
        using (var document = System.Text.Json.JsonDocument.Parse(json))
        {
            var gold = document.RootElement.GetProperty("ByClass").EnumerateArray().Single(c => c.GetProperty("Name").GetString() == "gold");
            Assert.Equal(System.Text.Json.JsonValueKind.Null, gold.GetProperty("TimeToFirstTokenMs").GetProperty("P50").ValueKind);
        }
        var report = System.Text.Json.JsonSerializer.Deserialize<ReplayReport>(json, ReportJson.Compact)!;
        Assert.True(double.IsNaN(report.ByClass.Single(c => c.Name == "gold").TimeToFirstTokenMs.P50));

        var byClass = report.ByClass.ToDictionary(c => c.Name);
        Assert.Equal(["bulk", "chat", "gold"], byClass.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(24, byClass.Values.Sum(c => c.Sent));
        Assert.Equal(byClass["chat"].Sent, byClass["chat"].Succeeded);
        Assert.Equal(byClass["bulk"].Sent, byClass["bulk"].Succeeded);
        Assert.Equal(0, byClass["gold"].Succeeded);
        Assert.Equal(byClass["gold"].Sent, report.ErrorsByKind.GetValueOrDefault("http_400"));
        Assert.Equal(options.DrawClasses(24).Count(c => c == "bulk"), byClass["bulk"].Sent); // the same draw every time
        Assert.Contains("| priority class |", await File.ReadAllTextAsync(Path.Combine(output, "report.md")), StringComparison.Ordinal);
        await host.WaitIdleAsync();
    }

    [Theory]
    [InlineData("chat=0")]
    [InlineData("chat=x")]
    [InlineData("=1")]
    [InlineData("chat,chat")]
    public void PriorityClasses_BadSpec_IsRefusedWithTheOption(string spec) =>
        Assert.Contains("--priority-classes", Assert.Throws<ArgumentException>(() => ControlPlane.LoadGen.Replay.ReplayOptions.ParseClasses(spec)).Message, StringComparison.Ordinal);
}
