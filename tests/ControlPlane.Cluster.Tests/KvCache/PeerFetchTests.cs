using ControlPlane.Testing.Cluster;

namespace ControlPlane.Cluster.Tests.KvCache;

/// <summary>
/// The distributed KV cache between worker processes (real redis-server, one control and two worker processes, the
/// OpenAI client, the tiny TorchSharp model): a prompt computed on one worker is published to the prefix index; the same
/// prompt sent to the other worker (round robin ignores the prefix) fetches the blocks over the KV data path instead of
/// computing them, and answers as the computed run did.
/// </summary>
public class PeerFetchTests
{
    [Fact]
    public async Task PrefixOnAnotherWorker_TinyTorch_FetchedOverTheDataPath_AnswerEqualsARecompute()
    {
        await using var cluster = await LocalCluster.StartAsync(new ClusterOptions
        {
            TinyTorch = true, InstancesPerWorker = 1, MigrationPlanner = false, DispatchPolicy = "round-robin",
        });
        var first = (await new StreamRun(cluster.Control.BaseAddress, 1, 24, startedAfterChunks: 1, padWords: 150, salt: "fetch").RunAsync()).Single();
        Assert.Null(first.Error);
        Assert.Equal(0, first.CachedTokens);
        // The engine publishes its blocks within a report period; the dispatcher's replica follows on its next refresh.
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        var second = (await new StreamRun(cluster.Control.BaseAddress, 1, 24, startedAfterChunks: 1, padWords: 150, salt: "fetch").RunAsync()).Single();

        Assert.Null(second.Error);
        Assert.Equal(first.Text, second.Text);
        Assert.True(second.CachedTokens > 0, "the second run should have found its prefix: fetched from the worker that computed it");
        double peer = 0, bytes = 0;
        foreach (var worker in cluster.Workers)
        {
            peer += await ClusterMetrics.SumAsync(worker.BaseAddress, "controlplane_kv_cached_prompt_tokens_total", "tier=\"peer\"");
            bytes += await ClusterMetrics.SumAsync(worker.BaseAddress, "controlplane_kv_peer_fetched_bytes_total");
        }
        Assert.Equal(second.CachedTokens, peer);
        Assert.True(bytes > 0, "no KV bytes crossed the data path");
        await cluster.WaitForNoKvAsync(TimeSpan.FromSeconds(10));
    }
}
