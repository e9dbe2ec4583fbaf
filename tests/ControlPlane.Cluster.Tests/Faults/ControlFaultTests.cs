using System.Diagnostics;
using ControlPlane.Testing.Cluster;
using Xunit.Abstractions;

namespace ControlPlane.Cluster.Tests.Faults;

/// <summary>Faults of what the workers depend on: the gateway's control process, and Redis.</summary>
public class ControlFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillGateway_WithStreamsInFlight_WorkersFreeEveryKvBlockWithinFailureDetection()
    {
        var options = new ClusterOptions();
        await using var cluster = await LocalCluster.StartAsync(options);
        var run = new StreamRun(cluster.Control.BaseAddress, 60, 1500);
        var streams = run.RunAsync();
        Assert.True(await WorkerFaultTests.WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)), "not every request was streaming within 60 s");
        Assert.True(await KvUsageAsync(cluster) > 0, "the workers hold no KV blocks while streaming");

        await cluster.Control.KillAsync();
        var watch = Stopwatch.StartNew();
        // Streams of 1500 tokens at 20 ms a step would hold their blocks for 30 s more: only the abort frees them sooner.
        var limit = TimeSpan.FromSeconds(15);
        double usage;
        while ((usage = await KvUsageAsync(cluster)) > 0 && watch.Elapsed < limit)
            await Task.Delay(100);
        output.WriteLine($"KV usage back to zero {watch.Elapsed.TotalMilliseconds:0} ms after the gateway died (probe timeout {options.ProbeTimeout}, {options.MissedProbesLimit} missed probes)");
        Assert.True(usage == 0, $"the workers still hold KV blocks ({usage:0.###} summed usage) {limit} after the gateway died");
        Assert.Equal(0, await RunningAsync(cluster));
        await streams; // they fail with the gateway; nothing more to check of them
    }

    [Fact]
    public async Task StopRedisFor30Seconds_RunningStreamsContinueAndTheClusterRecovers()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var run = new StreamRun(cluster.Control.BaseAddress, 20, 1900);
        var streams = run.RunAsync();
        Assert.True(await WorkerFaultTests.WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)), "not every request was streaming within 60 s");

        await cluster.Redis.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(10));
        // Serving needs no Redis: a request that starts during the outage is answered too (its lifecycle record waits).
        var during = await new StreamRun(cluster.Control.BaseAddress, 5, 20, startedAfterChunks: 1).RunAsync();
        await Task.Delay(TimeSpan.FromSeconds(20));
        await cluster.Redis.RestartAsync();
        var results = await streams;

        WorkerFaultTests.AssertAllFinished(during, "requests started while Redis was down");
        WorkerFaultTests.AssertAllFinished(results, "streams that ran through the outage");
        Assert.All(results, r => Assert.Equal(1900, r.CompletionTokens));
        // Recovered without a restart: every instance is still in the cluster, and new requests are served.
        await cluster.WaitForInstancesAsync(4, TimeSpan.FromSeconds(30));
        var after = await new StreamRun(cluster.Control.BaseAddress, 20, 20, startedAfterChunks: 1).RunAsync();
        WorkerFaultTests.AssertAllFinished(after, "requests after Redis came back");
        Assert.All(cluster.Workers.Append(cluster.Control), p => Assert.False(p.HasExited, $"{p.Name} exited:\n{p.RecentOutput}"));
    }

    private static async Task<double> KvUsageAsync(LocalCluster cluster)
    {
        var total = 0.0;
        foreach (var worker in cluster.Workers)
            total += await ClusterMetrics.SumAsync(worker.BaseAddress, "controlplane_instance_kv_usage");
        return total;
    }

    private static async Task<double> RunningAsync(LocalCluster cluster)
    {
        var total = 0.0;
        foreach (var worker in cluster.Workers)
            total += await ClusterMetrics.SumAsync(worker.BaseAddress, "controlplane_instance_running_requests");
        return total;
    }
}
