using System.Text.Json;
using ControlPlane.Cluster.Tests.Faults;
using ControlPlane.Testing.Cluster;
using Xunit.Abstractions;

namespace ControlPlane.Cluster.Tests.Migration;

/// <summary>
/// Live migration between worker processes (real redis-server, one control and two worker processes, the OpenAI
/// client): requests move over the KV data path while they decode and their streams go on unbroken.
/// </summary>
public class WorkerMigrationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MigrateBetweenWorkerProcesses_TinyTorch_StreamsGoOnWithTheSameTokens()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions { TinyTorch = true, InstancesPerWorker = 1, MigrationPlanner = false });
        const int requests = 4, maxTokens = 600;
        var baseline = await new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 5).RunAsync();
        WorkerFaultTests.AssertAllFinished(baseline, "baseline");
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));

        var run = new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 5);
        var streams = run.RunAsync();
        Assert.True(await WorkerFaultTests.WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)), "not every request was streaming within 60 s");
        var instances = await cluster.InstancesAsync();
        var source = instances.Single(i => i.Pod == "worker-0").Id;
        var destination = instances.Single(i => i.Pod == "worker-1").Id;
        var committed = 0;
        // Move what worker-0 runs to worker-1, one request per order, while they decode.
        for (var i = 0; i < requests; i++)
        {
            var result = await MigrateAsync(cluster, source, destination);
            output.WriteLine(result.GetRawText());
            var outcome = result.GetProperty("outcome").GetString();
            if (outcome == "nocandidate")
                break;
            Assert.Equal("committed", outcome);
            Assert.True(result.GetProperty("blocks").GetInt32() >= 1);
            Assert.True(result.GetProperty("bytes").GetInt64() > 0, "a TorchSharp engine's blocks hold bytes");
            committed++;
        }
        var results = await streams;

        Assert.True(committed >= 1, "worker-0 ran no request, so nothing moved and the test proved nothing");
        for (var i = 0; i < requests; i++)
        {
            Assert.Null(results[i].Error);
            Assert.Equal(baseline[i].Text, results[i].Text);
            Assert.Equal(baseline[i].CompletionTokens, results[i].CompletionTokens);
        }
        Assert.Equal(committed, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_migrations_total"));
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total"));
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DestinationWorkerDead_MigrationFails_AndTheRequestFinishesOnItsSource()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions { TinyTorch = true, InstancesPerWorker = 1, MigrationPlanner = false });
        var instances = await cluster.InstancesAsync();
        var source = instances.Single(i => i.Pod == "worker-0").Id;
        var destination = instances.Single(i => i.Pod == "worker-1").Id;
        await cluster.Workers[1].KillAsync();
        // The dead worker's instance must be out of dispatch first: the requests below must run on worker-0.
        await cluster.WaitForExactlyAsync(1, TimeSpan.FromSeconds(30));
        const int maxTokens = 600;
        var baseline = await new StreamRun(cluster.Control.BaseAddress, 1, maxTokens, startedAfterChunks: 5).RunAsync();
        WorkerFaultTests.AssertAllFinished(baseline, "baseline");
        var run = new StreamRun(cluster.Control.BaseAddress, 1, maxTokens, startedAfterChunks: 5);
        var streams = run.RunAsync();
        Assert.True(await WorkerFaultTests.WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)));
        var result = await MigrateAsync(cluster, source, destination);
        output.WriteLine(result.GetRawText());
        Assert.NotEqual("committed", result.GetProperty("outcome").GetString());
        var results = await streams;
        Assert.Null(results[0].Error);
        Assert.Equal(baseline[0].Text, results[0].Text);
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// SIGTERM on a worker whose streams have seconds left: its drain migrates them to the other worker and the
    /// process exits long before they would have finished; every stream ends as it would have without the stop.
    /// </summary>
    [Fact]
    public async Task TerminateWorker_MigratesItsStreamsAway_InsteadOfWaitingForThem()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions { DrainTimeout = TimeSpan.FromSeconds(60) });
        const int requests = 40, maxTokens = 400; // 20 ms steps: 8 s a stream
        var baseline = await new StreamRun(cluster.Control.BaseAddress, requests, maxTokens).RunAsync();
        WorkerFaultTests.AssertAllFinished(baseline, "baseline");
        await cluster.WaitForIdleAsync(TimeSpan.FromSeconds(10));
        var run = new StreamRun(cluster.Control.BaseAddress, requests, maxTokens);
        var streams = run.RunAsync();
        Assert.True(await WorkerFaultTests.WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)));
        var running = await WorkerFaultTests.RunningOnAsync(cluster, "worker-1");
        var stopped = run.Clock.Elapsed;
        cluster.Workers[1].Terminate();
        var exit = await cluster.Workers[1].WaitForExitAsync(TimeSpan.FromSeconds(90));
        var exitedAfter = run.Clock.Elapsed - stopped;
        var results = await streams;
        var left = results.Max(r => r.ChunkTimes[^1]) - stopped;
        output.WriteLine($"{running} request(s) on worker-1; it exited {exitedAfter.TotalSeconds:0.0} s after SIGTERM; the streams went on for {left.TotalSeconds:0.0} s");

        for (var i = 0; i < requests; i++)
        {
            Assert.Null(results[i].Error);
            Assert.Equal(baseline[i].Text, results[i].Text);
        }
        Assert.True(running >= 1, "worker-1 ran no request, so the test proved nothing");
        Assert.Equal(0, exit);
        Assert.True(exitedAfter < left - TimeSpan.FromSeconds(2), $"the worker exited {exitedAfter} after SIGTERM, not well before its streams would have ended ({left})");
        Assert.True(await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_migrations_total") >= running);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total"));
    }

    private static async Task<JsonElement> MigrateAsync(LocalCluster cluster, string source, string destination)
    {
        using var http = new HttpClient { BaseAddress = cluster.Control.BaseAddress, Timeout = TimeSpan.FromSeconds(90) };
        using var response = await http.PostAsync(new Uri(
            $"admin/models/{LocalCluster.Model}/migrations?source={Uri.EscapeDataString(source)}&destination={Uri.EscapeDataString(destination)}", UriKind.Relative), null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"migrate answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
