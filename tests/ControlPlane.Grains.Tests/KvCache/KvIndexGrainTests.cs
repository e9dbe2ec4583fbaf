using ControlPlane.KvCache;
using ControlPlane.Requests;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Tests.KvCache;

[Collection(ClusterCollection.Name)]
public class KvIndexGrainTests(ClusterFixture fixture)
{
    private const int Shards = 4; // KvCacheConfig's default, which the fixture keeps

    [Fact]
    public async Task Index_EngineComputesAPrompt_ItsBlocksAppear_AndAreRebuiltAfterTheShardRestarts()
    {
        await fixture.WaitForInstancesAsync();
        var prompt = Enumerable.Range(0, 64).Select(i => 1 + (i * 7919 + 13) % 30_000).ToArray();
        var sink = new CollectingSink();
        var reference = fixture.Cluster.Client.CreateObjectReference<ITokenSink>(sink);
        var spec = new RequestSpec
        {
            RequestId = "kv-index-1", Model = ClusterFixture.Model, PromptTokenIds = prompt,
            Sampling = new SamplingParameters { MaxTokens = 2, Temperature = 0 },
        };
        Assert.True((await fixture.Cluster.GrainFactory.GetGrain<IInstanceGrain>("m-2").AdmitAsync(spec, reference)).Accepted);
        await sink.WaitAsync(spec.RequestId);
        var hashes = new KvBlockHasher(ClusterFixture.Model, 16).HashAll(prompt);

        var replica = await WaitForBlocksAsync(hashes, "m-2", TimeSpan.FromSeconds(5));
        Assert.Equal(4, replica.Index.Match(hashes).For("m-2").Blocks);

        // Every shard that holds one of these blocks is deactivated: it comes back empty, refuses the engine's next batch
        // (or probe), and is rebuilt from the engine's holdings.
        var keys = hashes.Select(h => KvIndexReplica.ShardOf(h, Shards)).Distinct().ToArray();
        foreach (var shard in keys)
        {
            var grain = fixture.Cluster.GrainFactory.GetGrain<IKvIndexGrain>($"{ClusterFixture.Model}/{shard}");
            await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        }
        await Task.Delay(200);
        var rebuilt = await WaitForBlocksAsync(hashes, "m-2", TimeSpan.FromSeconds(15));
        Assert.Equal(4, rebuilt.Index.Match(hashes).For("m-2").Blocks);
    }

    /// <summary>Polls the shards as a dispatcher's replica does until <paramref name="instance"/> holds all of <paramref name="hashes"/>.</summary>
    private async Task<KvIndexReplica> WaitForBlocksAsync(ulong[] hashes, string instance, TimeSpan timeout)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var replica = new KvIndexReplica(Shards);
            for (var s = 0; s < Shards; s++)
                replica.Apply(s, await fixture.Cluster.GrainFactory.GetGrain<IKvIndexGrain>($"{ClusterFixture.Model}/{s}").GetChangesAsync(Guid.Empty, 0));
            if (replica.Index.Match(hashes).For(instance).Blocks == hashes.Length)
                return replica;
            if (watch.Elapsed > timeout)
                throw new TimeoutException($"the index did not show {instance} holding the prompt's {hashes.Length} blocks within {timeout}; it shows {replica.Index.Match(hashes).For(instance).Blocks}");
            await Task.Delay(100);
        }
    }
}
