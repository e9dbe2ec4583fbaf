using System.Text;
using ControlPlane.Grains;
using ControlPlane.Power;
using ControlPlane.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Server.Tests.Power;

public class PowerDomainTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        // Four simulated H100s with the fitted power model; a domain budgeted for about one of them.
        ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
        ["ControlPlane:Power:Domains:0:Name"] = "row-a",
        ["ControlPlane:Power:Domains:0:BudgetWatts"] = "900",
        ["ControlPlane:Power:Domains:0:Models:0"] = GatewayHost.Model,
        ["ControlPlane:Power:Domains:0:PeriodMs"] = "200",
        ["ControlPlane:Power:Controller:ReleasePeriods"] = "2",
    };

    [Fact]
    public async Task Answers_CarryTheRequestsEnergy_AndMetricsPerOutputToken()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp" });
        var response = await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative),
            new StringContent($$"""{"model":"{{GatewayHost.Model}}","prompt":"the river of light","max_tokens":40,"ignore_eos":true}""", Encoding.UTF8, "application/json"));
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var usage = json.RootElement.GetProperty("usage");
        var joules = usage.GetProperty("energy_joules").GetDouble();
        // 40 decode steps of a modelled H100 (idle about 90 W, decode about 300 W, steps of several ms): a few joules.
        Assert.InRange(joules / usage.GetProperty("completion_tokens").GetInt32(), 0.1, 10);
        var metrics = await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("controlplane_request_energy_joules_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("controlplane_energy_per_output_token_joules_sum", metrics, StringComparison.Ordinal);

        // A profile without a power model reports none.
        await using var plain = await GatewayHost.StartAsync();
        var unpowered = await plain.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative),
            new StringContent($$"""{"model":"{{GatewayHost.Model}}","prompt":"x","max_tokens":3}""", Encoding.UTF8, "application/json"));
        using var none = System.Text.Json.JsonDocument.Parse(await unpowered.Content.ReadAsStringAsync());
        Assert.False(none.RootElement.GetProperty("usage").TryGetProperty("energy_joules", out _));
    }

    [Fact]
    public async Task Domain_UnderLoadThenIdle_CapsTheModelledGpusThenReleasesThem()
    {
        await using var host = await GatewayHost.StartAsync(Settings);
        var domain = host.Grains.GetGrain<IPowerDomainGrain>("row-a");
        var idle = await WaitForAsync(domain, s => s.Instances == 4 && s.UpdatedAt != default, "the domain's first reading of four instances");
        Assert.Equal("Uncapped", idle.Level);
        Assert.InRange(idle.DrawWatts, 4 * 90 * 0.9, 4 * 90 * 1.1); // four idle GPUs

        // Load every instance: decode alone draws about 294 W a GPU, well over 900 W for four.
        using var stop = new CancellationTokenSource();
        var load = LoadAsync(host, stop.Token);
        var capped = await WaitForAsync(domain, s => s.Caps.Count == 4, "every instance capped under load");
        Assert.NotEqual("Uncapped", capped.Level);
        var loads = await WaitForLoadsAsync(host, l => l.All(x => x.PowerCapWatts is not null), "the caps reaching the instances' actuators");
        Assert.All(loads, l => Assert.Equal(capped.Caps[l.InstanceId], l.PowerCapWatts!.Value, 6));
        var metrics = await host.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        foreach (var name in new[] { "controlplane_gpu_power_draw", "controlplane_gpu_power_cap", "controlplane_gpu_energy" })
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        using var live = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/admin/power", UriKind.Relative)));
        var row = live.RootElement.GetProperty("domains")[0];
        Assert.Equal("row-a", row.GetProperty("domain").GetString());
        Assert.Equal(900, row.GetProperty("budgetWatts").GetDouble());
        Assert.Equal(4, row.GetProperty("caps").EnumerateObject().Count());

        await stop.CancelAsync();
        await load;
        await WaitForAsync(domain, s => s.Level == "Uncapped" && s.Caps.Count == 0, "the release once draw fell");
        await WaitForLoadsAsync(host, l => l.All(x => x.PowerCapWatts is null), "the caps lifted on the instances");
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task BudgetDomain_AppliedByNodes_CapsTheNodesInstances_AndStopsWhenTheBudgetGoes()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
            ["ControlPlane:Cluster:NodeName"] = "gpu-node-1",
            ["ControlPlane:Power:Controller:ReleasePeriods"] = "2",
        });
        async Task<HttpResponseMessage> PutAsync(string json) =>
            await host.Http.PutAsync(new Uri("/admin/power/domains", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

        // Bad sets are refused by field and change nothing.
        foreach (var (bad, param) in new[]
        {
            ("""{"domains":[{"name":"row-b","budgetWatts":-1,"nodes":["gpu-node-1"]}]}""", "domains[0].budgetWatts"),
            ("""{"domains":[{"name":"row-b","budgetWatts":900}]}""", "domains[0].nodes"),
            ("""{"domains":[{"name":"row-b","budgetWatts":900,"nodes":["gpu-node-1"],"headroomPercent":80}]}""", "domains[0].headroomPercent"),
            ("""{"domains":[{"name":"row-b","budgetWatts":900,"nodes":"gpu-node-1"}]}""", "domains[0].nodes"),
            ("""{"domains":[{"name":"row-b","budgetWatts":900,"nodes":["gpu-node-1"],"cap":1}]}""", "domains[0].cap"),
            ("""{"domain":[]}""", "domains"),
        })
        {
            var refused = await PutAsync(bad);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
            using var error = System.Text.Json.JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal(param, error.RootElement.GetProperty("error").GetProperty("param").GetString());
        }
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await PutAsync("{")).StatusCode);

        // Another node's domain holds none of this host's instances.
        Assert.True((await PutAsync("""{"domains":[{"name":"row-c","budgetWatts":900,"nodes":["gpu-node-9"],"periodMs":200}]}""")).IsSuccessStatusCode);
        var elsewhere = await WaitForAsync(host.Grains.GetGrain<IPowerDomainGrain>("row-c"), s => s.UpdatedAt != default, "row-c's first reading");
        Assert.Equal(0, elsewhere.Instances);

        // This node's, budgeted for about one of its four GPUs (as the configured test above) with a 250 W floor on caps:
        // row-c is left out of the set, so it stops.
        Assert.True((await PutAsync("""{"domains":[{"name":"row-b","budgetWatts":950,"nodes":["gpu-node-1"],"periodMs":200,"minimumGpuWatts":250,"headroomPercent":5}]}""")).IsSuccessStatusCode);
        var domain = host.Grains.GetGrain<IPowerDomainGrain>("row-b");
        await WaitForAsync(domain, s => s.Instances == 4, "the domain's four instances, found by their node");
        using (var applied = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/admin/power/domains", UriKind.Relative))))
            Assert.Equal("row-b", Assert.Single(applied.RootElement.GetProperty("domains").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(0, (await host.Grains.GetGrain<IPowerDomainGrain>("row-c").GetStatusAsync()).Instances);

        using var stop = new CancellationTokenSource();
        var load = LoadAsync(host, stop.Token);
        var capped = await WaitForAsync(domain, s => s.Caps.Count == 4, "every instance capped under load");
        Assert.All(capped.Caps.Values, cap => Assert.True(cap >= 250, $"a cap of {cap:0} W is below the domain's 250 W floor"));
        await WaitForLoadsAsync(host, l => l.All(x => x.PowerCapWatts is not null), "the caps reaching the instances");
        using (var live = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/admin/power", UriKind.Relative))))
        {
            var names = live.RootElement.GetProperty("domains").EnumerateArray().Select(d => d.GetProperty("domain").GetString()!).ToArray();
            Assert.Equal(["row-b"], names);
        }
        // The status page shows the domains beside the models.
        using (var page = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/status.json", UriKind.Relative))))
        {
            var row = page.RootElement.GetProperty("power_domains").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "row-b");
            Assert.Equal((950.0, 4), (row.GetProperty("budget_watts").GetDouble(), row.GetProperty("instances").GetInt32()));
            Assert.InRange(row.GetProperty("capped").GetInt32(), 1, 4); // under the same load
        }
        Assert.Contains("<td>row-b</td><td>950</td>", await host.Http.GetStringAsync(new Uri("/status", UriKind.Relative)), StringComparison.Ordinal);

        // The budget deleted (the operator applies a set without it): the loop stops and lifts its caps under load.
        Assert.True((await PutAsync("""{"domains":[]}""")).IsSuccessStatusCode);
        await WaitForLoadsAsync(host, l => l.All(x => x.PowerCapWatts is null), "the caps lifted once the budget went");
        using (var after = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/admin/power", UriKind.Relative))))
            Assert.Empty(after.RootElement.GetProperty("domains").EnumerateArray());
        await stop.CancelAsync();
        await load;
        await host.WaitIdleAsync();
    }

    [Fact]
    public async Task BudgetDomain_ACapLostOnAnInstance_IsSetAgain()
    {
        // Four idle modelled GPUs (about 90 W each) under a 200 W budget: every one capped, the decision steady while idle.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
            ["ControlPlane:Cluster:NodeName"] = "gpu-node-1",
            ["ControlPlane:Power:Controller:ReleasePeriods"] = "1000",
        });
        var put = await host.Http.PutAsync(new Uri("/admin/power/domains", UriKind.Relative),
            new StringContent("""{"domains":[{"name":"tight","budgetWatts":200,"nodes":["gpu-node-1"],"periodMs":700}]}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode);
        var capped = await WaitForLoadsAsync(host, l => l.Count == 4 && l.All(x => x.PowerCapWatts is not null), "every idle instance capped");
        var domain = host.Grains.GetGrain<IPowerDomainGrain>("tight");
        var before = await domain.GetStatusAsync();
        await Task.Delay(1500);
        Assert.Equal(before.Caps.OrderBy(c => c.Key), (await domain.GetStatusAsync()).Caps.OrderBy(c => c.Key)); // steady

        // The cap lost on one instance (a restarted worker comes back uncapped): the loop acts on what instances report.
        // (The loss shows in the reported loads only until the domain's next period resends it, which may be a few ms: the
        // instance's own record of the domain's cap says when it came back.)
        var runner = host.App.Services.GetRequiredService<ControlPlane.Grains.Engines.EngineHost>().Runners.Single(r => r.Descriptor.InstanceId == capped[0].InstanceId);
        await host.Grains.GetGrain<ControlPlane.Grains.IInstanceGrain>(capped[0].InstanceId).SetPowerCapAsync("tight", null);
        Assert.DoesNotContain("tight", runner.PowerVotes.Caps.Keys);
        for (var i = 0; i < 300 && !runner.PowerVotes.Caps.ContainsKey("tight"); i++)
            await Task.Delay(50);
        Assert.True(runner.PowerVotes.Caps.ContainsKey("tight"), "the domain did not set its lost cap again within 15 s");
        await WaitForLoadsAsync(host, l => l.Single(x => x.InstanceId == capped[0].InstanceId).PowerCapWatts is not null, "the cap set again reported");
    }

    [Fact]
    public async Task ConfiguredAndBudgetDomains_OverTheSameGpus_TheyObeyTheLowerCap_AndNeitherUndoesTheOther()
    {
        // Four idle modelled GPUs (about 90 W each) in a domain by model (300 W) and a PowerBudget by node (200 W, its caps
        // floored at 400 W, above the controller's own floor): both cap every one of them, to different caps. Each GPU must hold the lower, steadily; before, each domain re-sent its own
        // cap every period on seeing the other's, and the cap flipped between the two.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
            ["ControlPlane:Cluster:NodeName"] = "gpu-node-1",
            ["ControlPlane:Power:Domains:0:Name"] = "by-model",
            ["ControlPlane:Power:Domains:0:BudgetWatts"] = "300",
            ["ControlPlane:Power:Domains:0:Models:0"] = GatewayHost.Model,
            ["ControlPlane:Power:Domains:0:PeriodMs"] = "150",
            ["ControlPlane:Power:Controller:ReleasePeriods"] = "1000",
        });
        var put = await host.Http.PutAsync(new Uri("/admin/power/domains", UriKind.Relative),
            new StringContent("""{"domains":[{"name":"by-node","budgetWatts":200,"nodes":["gpu-node-1"],"periodMs":150,"minimumGpuWatts":400}]}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode);
        var byModel = host.Grains.GetGrain<IPowerDomainGrain>("by-model");
        var byNode = host.Grains.GetGrain<IPowerDomainGrain>("by-node");
        await WaitForAsync(byModel, s => s.Caps.Count == 4, "the domain by model capping every GPU");
        await WaitForAsync(byNode, s => s.Caps.Count == 4, "the budget by node capping every GPU");
        await Task.Delay(1000); // both decisions steady (idle, and no release for 1000 periods)

        var (a, b) = (await byModel.GetStatusAsync(), await byNode.GetStatusAsync());
        Assert.Contains(a.Caps, c => Math.Abs(c.Value - b.Caps[c.Key]) >= 1); // the two disagree somewhere, or the test proves nothing
        for (var sample = 0; sample < 20; sample++)
        {
            await Task.Delay(100);
            var loads = await host.LoadsAsync();
            (a, b) = (await byModel.GetStatusAsync(), await byNode.GetStatusAsync());
            Assert.All(loads, l => Assert.Equal(Math.Min(a.Caps[l.InstanceId], b.Caps[l.InstanceId]), l.PowerCapWatts!.Value, 0));
        }

        // The budget goes: the GPUs go back to the domain by model's caps, not to none.
        Assert.True((await host.Http.PutAsync(new Uri("/admin/power/domains", UriKind.Relative), new StringContent("""{"domains":[]}""", Encoding.UTF8, "application/json"))).IsSuccessStatusCode);
        a = await byModel.GetStatusAsync();
        await WaitForLoadsAsync(host, l => l.All(x => x.PowerCapWatts is { } cap && Math.Abs(cap - a.Caps[x.InstanceId]) < 0.5), "the domain by model's caps alone");
    }

    [Fact]
    public async Task BudgetDomains_MayNotTakeAConfiguredDomainsName()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Power:Domains:0:Name"] = "configured",
            ["ControlPlane:Power:Domains:0:BudgetWatts"] = "100000",
            ["ControlPlane:Power:Domains:0:Models:0"] = GatewayHost.Model,
        });
        var refused = await host.Http.PutAsync(new Uri("/admin/power/domains", UriKind.Relative),
            new StringContent("""{"domains":[{"name":"configured","budgetWatts":900,"nodes":["gpu-node-1"]}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        using var error = System.Text.Json.JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("domains[0].name", error.RootElement.GetProperty("error").GetProperty("param").GetString());

        // A body past the endpoint's 1 MiB is 413 even when it comes without a length (chunked): it is not buffered whole.
        var huge = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"domains\":[" + string.Concat(Enumerable.Repeat("{\"name\":\"x\"},", 120_000)) + "]}")));
        huge.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var put = new HttpRequestMessage(HttpMethod.Put, "/admin/power/domains") { Content = huge };
        put.Headers.TransferEncodingChunked = true;
        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, (await host.Http.SendAsync(put)).StatusCode);
    }

    [Fact]
    public async Task BudgetDomain_NotInTheAppliedSet_StopsItself()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
            ["ControlPlane:Cluster:NodeName"] = "gpu-node-1",
        });
        var listed = new PowerDomainSpec { Name = "listed", BudgetWatts = 5000, Nodes = ["gpu-node-1"], PeriodMs = 100 };
        await host.Grains.GetGrain<IPowerDomainsGrain>(0).ApplyAsync([listed]);
        // A domain grain running a budget the set no longer holds (as one started before its registry's silo went down).
        await host.Grains.GetGrain<IPowerDomainGrain>("orphan").ConfigureAsync(listed with { Name = "orphan" });

        await WaitForAsync(host.Grains.GetGrain<IPowerDomainGrain>("listed"), s => s.UpdatedAt != default && s.Instances == 4, "the listed domain's readings");
        await Task.Delay(500); // five of the orphan's periods
        Assert.Equal(default, (await host.Grains.GetGrain<IPowerDomainGrain>("orphan").GetStatusAsync()).UpdatedAt); // it stopped at its first period
    }

    [Fact]
    public async Task OperatorsPowerClient_AppliesAndReadsDomains_AgainstTheRealGateway()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Profile"] = "llama-3-8b-h100-torchsharp",
            ["ControlPlane:Cluster:NodeName"] = "gpu-node-1",
        });
        var client = new ControlPlane.Operator.Reconciliation.HttpPowerStatusClient(host.Http);
        Assert.Null(await client.ApplyAsync([new("row-a", 5000, ["gpu-node-1"], 200, 5)], default));
        var live = await client.ReadAsync(default);
        for (var i = 0; i < 100 && live?.GetValueOrDefault("row-a") is null or { DrawWatts: 0 }; i++)
        {
            await Task.Delay(100);
            live = await client.ReadAsync(default);
        }
        Assert.NotNull(live);
        Assert.Equal("Uncapped", live["row-a"].Level); // four idle GPUs, far under 5,000 W
        Assert.InRange(live["row-a"].DrawWatts, 4 * 90 * 0.9, 4 * 90 * 1.1);
        Assert.Equal(4, live["row-a"].Instances); // the four instances on the node, as the PowerBudget's status will say

        var refused = await client.ApplyAsync([new("row-a", 5000, ["gpu-node-1"], 200, 90)], default);
        Assert.Contains("headroomPercent", refused, StringComparison.Ordinal); // the gateway's reason, for the PowerBudget's condition
        Assert.Null(await client.ApplyAsync([], default));
        Assert.False((await client.ReadAsync(default))!.ContainsKey("row-a"));
    }

    /// <summary>Eight clients sending long decodes back to back until <paramref name="stop"/>: every instance decodes, drawing about 294 W.</summary>
    private static Task LoadAsync(GatewayHost host, CancellationToken stop)
    {
        var prompt = string.Join(' ', Enumerable.Repeat("the river of light", 80));
        var body = $$"""{"model":"{{GatewayHost.Model}}","prompt":"{{prompt}}","max_tokens":150,"ignore_eos":true}""";
        return Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
                using (await host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json")))
                {
                }
        })));
    }

    private static async Task<PowerDomainStatus> WaitForAsync(IPowerDomainGrain domain, Func<PowerDomainStatus, bool> done, string what)
    {
        var status = await domain.GetStatusAsync();
        for (var i = 0; i < 300 && !done(status); i++)
        {
            await Task.Delay(50);
            status = await domain.GetStatusAsync();
        }
        Assert.True(done(status), $"waited 15 s for {what}; last status: level {status.Level}, draw {status.DrawWatts:0} W, {status.Caps.Count} caps, {status.Instances} instances");
        return status;
    }

    private static async Task<IReadOnlyList<ControlPlane.Instances.InstanceLoad>> WaitForLoadsAsync(GatewayHost host, Func<IReadOnlyList<ControlPlane.Instances.InstanceLoad>, bool> done, string what)
    {
        var loads = await host.LoadsAsync();
        for (var i = 0; i < 300 && !done(loads); i++)
        {
            await Task.Delay(50);
            loads = await host.LoadsAsync();
        }
        Assert.True(done(loads), $"waited 15 s for {what}; caps: {string.Join(", ", loads.Select(l => l.PowerCapWatts?.ToString("0", System.Globalization.CultureInfo.InvariantCulture) ?? "none"))}");
        return loads;
    }
}
