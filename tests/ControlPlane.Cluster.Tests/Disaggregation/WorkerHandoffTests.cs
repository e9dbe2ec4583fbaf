using ControlPlane.Cluster.Tests.Faults;
using ControlPlane.Testing.Cluster;
using Xunit.Abstractions;

namespace ControlPlane.Cluster.Tests.Disaggregation;

/// <summary>
/// Prefill/decode disaggregation between worker processes (real redis-server, one control and two worker processes,
/// the OpenAI client): worker-0 is the prefill pool, worker-1 the decode pool. A long prompt prefills on the first,
/// its blocks go to the second over the KV data path, and the second decodes; a worker that dies on either side of a
/// handoff loses no request.
/// </summary>
public class WorkerHandoffTests(ITestOutputHelper output)
{
    private static readonly string[] Roles = ["prefill", "decode"];

    [Fact]
    public async Task SplitAcrossWorkerProcesses_TinyTorch_TokensEqualAColocatedRun()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions
        {
            TinyTorch = true, InstancesPerWorker = 1, MigrationPlanner = false, WorkerRoles = Roles, SplitPromptTokens = 100, MaxBatchedTokens = 32,
            // The split run repeats the colocated run's prompts, which the prefix index would find cached where they decode
            // (and rightly not split): without the index every one is split, which is what this test is about.
            KvIndexShards = 0,
        });
        var prefill = (await cluster.InstancesAsync()).Single(i => i.Pod == "worker-0").Id;
        const int requests = 3, maxTokens = 80, padWords = 150;

        // Colocated: with worker-0 in the decode role there is no prefill instance, so nothing is split.
        await cluster.SetRoleAsync(prefill, "decode");
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // every dispatcher's view is older than its stale limit: the next decision refreshes it
        var colocated = await new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 1, padWords: padWords).RunAsync();
        WorkerFaultTests.AssertAllFinished(colocated, "colocated");
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_splits_total"));
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));

        await cluster.SetRoleAsync(prefill, "prefill");
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var split = await new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 1, padWords: padWords).RunAsync();
        for (var i = 0; i < requests; i++)
        {
            Assert.Null(split[i].Error);
            Assert.Equal(colocated[i].Text, split[i].Text);
            Assert.Equal(colocated[i].CompletionTokens, split[i].CompletionTokens);
        }
        Assert.Equal(requests, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_splits_total"));
        Assert.Equal(requests, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_handoffs_total"));
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total"));
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ARoleGivenByHand_OutlivesItsWorkersRestart()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions { InstancesPerWorker = 1, MigrationPlanner = false, WorkerRoles = Roles });
        var prefill = (await cluster.InstancesAsync()).Single(i => i.Pod == "worker-0").Id;
        await cluster.SetRoleAsync(prefill, "decode");

        // The worker dies and comes back under its pod's name: its instance starts in its pool's role (prefill) and the
        // scheduler, which gave it decode, sets that again.
        await cluster.Workers[0].KillAsync();
        await cluster.WaitForExactlyAsync(1, TimeSpan.FromSeconds(30));
        cluster.Workers[0] = cluster.StartWorker("worker-0");
        await cluster.Workers[0].WaitReadyAsync(cluster.Options.StartTimeout);
        await cluster.WaitForInstancesAsync(2, TimeSpan.FromSeconds(30));
        try
        {
            await cluster.WaitForRoleAsync(prefill, "decode", TimeSpan.FromSeconds(10));
            await Task.Delay(TimeSpan.FromSeconds(1)); // a few reports later, still so
            await cluster.WaitForRoleAsync(prefill, "decode", TimeSpan.FromSeconds(1));
        }
        catch (TimeoutException)
        {
            output.WriteLine($"---- control-0, last lines:\n{cluster.Control.RecentOutput}");
            throw;
        }
    }

    [Fact]
    public async Task PrefillWorkerDiesMidPrefill_TheRequestsAreDispatchedAgain_AndFinishWithTheSameTokens()
    {
        await using var cluster = await StartSlowPrefillAsync();
        var (baseline, results) = await RunWithFaultAsync(cluster, cluster.Workers[0]);
        for (var i = 0; i < baseline.Length; i++)
        {
            Assert.Null(results[i].Error);
            Assert.Equal(baseline[i].Text, results[i].Text);
        }
        Assert.True(await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total", "outcome=\"resumed\"") >= 1,
            "no request was resumed: the prefill worker died after every handoff, and the test proved nothing");
    }

    [Fact]
    public async Task DecodeWorkerDiesBeforeTheHandoff_TheRequestsDecodeWhereTheyWerePrefilled()
    {
        await using var cluster = await StartSlowPrefillAsync();
        var (baseline, results) = await RunWithFaultAsync(cluster, cluster.Workers[1]);
        for (var i = 0; i < baseline.Length; i++)
        {
            Assert.Null(results[i].Error);
            Assert.Equal(baseline[i].Text, results[i].Text);
        }
        // They never left worker-0: nothing was resumed, and no handoff committed in the faulty run.
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total"));
        Assert.Equal(baseline.Length, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_handoffs_total"));
        Assert.Equal(2 * baseline.Length, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_splits_total"));
    }

    /// <summary>Simulated engines whose prompts take seconds to prefill: a worker can be killed while they do.</summary>
    private static Task<LocalCluster> StartSlowPrefillAsync() => LocalCluster.StartAsync(new ClusterOptions
    {
        InstancesPerWorker = 1, MigrationPlanner = false, WorkerRoles = Roles, SplitPromptTokens = 100, PrefillMsPerToken = 4,
    });

    /// <summary>
    /// Runs a few long-prompt requests without a fault (the baseline: split and handed off), then again (other prompts of the same length), killing
    /// <paramref name="victim"/> while their prompts prefill (a second in, with no token out yet).
    /// </summary>
    private async Task<(StreamResult[] Baseline, StreamResult[] Results)> RunWithFaultAsync(LocalCluster cluster, SiloProcess victim)
    {
        const int requests = 3, maxTokens = 60, padWords = 200;
        var baseline = await new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 1, padWords: padWords, salt: "first").RunAsync();
        WorkerFaultTests.AssertAllFinished(baseline, "baseline");
        output.WriteLine($"baseline: first tokens at {string.Join(", ", baseline.Select(r => r.ChunkTimes[0].TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))} ms");
        Assert.Equal(requests, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_handoffs_total"));
        await cluster.WaitForIdleAsync(TimeSpan.FromSeconds(10));

        // Another first word: no prefix cached by the baseline, so the prompts prefill in full again. The simulated model's
        // greedy token is a function of the last token and the length, so the text must equal the baseline's.
        var run = new StreamRun(cluster.Control.BaseAddress, requests, maxTokens, startedAfterChunks: 1, padWords: padWords, salt: "again");
        var streams = run.RunAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        if (run.AllStreaming.IsCompleted)
        {
            var early = await streams;
            Assert.Fail("the prompts were prefilled within a second, so the fault would not fall mid-prefill: "
                + string.Join("; ", early.Select(r => $"{r.ChunkTimes.Count} chunks, first at {(r.ChunkTimes.Count > 0 ? r.ChunkTimes[0] : TimeSpan.Zero)}, error {r.Error}")));
        }
        await victim.KillAsync();
        var results = await streams;
        output.WriteLine($"after the fault: first tokens at {string.Join(", ", results.Select(r => r.ChunkTimes.Count > 0 ? r.ChunkTimes[0].TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "none"))} ms");
        return (baseline, results);
    }
}
