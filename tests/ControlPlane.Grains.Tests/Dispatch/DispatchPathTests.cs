using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Tests.Dispatch;

[Collection(ClusterCollection.Name)]
public class DispatchPathTests(ClusterFixture fixture)
{
    private static RequestSpec Spec(string id, int prompt = 20, int maxTokens = 6) => new()
    {
        RequestId = id,
        Model = ClusterFixture.Model,
        // A prompt of its own per request: the engines share cached prefixes, and these tests are about dispatch.
        PromptTokenIds = Enumerable.Range(1, prompt).Select(i => 1 + (i * 31 + id.Sum(c => c) * 997) % 30_000).ToArray(),
        Sampling = new SamplingParameters { MaxTokens = maxTokens, Temperature = 0 },
    };

    [Fact]
    public async Task DispatchAdmit_Request_StreamsSequencedChunksEndingWithUsage()
    {
        await fixture.WaitForInstancesAsync();
        var sink = new CollectingSink();
        var reference = fixture.Cluster.Client.CreateObjectReference<ITokenSink>(sink);
        var spec = Spec("path-1");

        var decision = await fixture.Cluster.GrainFactory.GetGrain<IDispatcherGrain>(ClusterFixture.Model).DispatchAsync(spec, []);
        Assert.NotNull(decision.InstanceId);
        var admit = await fixture.Cluster.GrainFactory.GetGrain<IInstanceGrain>(decision.InstanceId).AdmitAsync(spec, reference);
        Assert.True(admit.Accepted, admit.Reason);

        var chunks = await sink.WaitAsync("path-1");
        Assert.Equal(Enumerable.Range(0, 6), chunks.Select(c => c.Sequence));
        Assert.Equal(6, chunks.Sum(c => c.TokenIds.Length));
        var last = chunks[^1];
        Assert.Equal(FinishReason.Length, last.FinishReason);
        Assert.Equal(new RequestUsage(20, 6, 0), last.Usage);
        Assert.True(last.EngineTime > TimeSpan.Zero);
    }

    [Fact]
    public async Task Dispatch_BurstBetweenRefreshes_SpreadsOverAllInstances()
    {
        await fixture.WaitForInstancesAsync(idle: true, model: ClusterFixture.BurstModel);
        var dispatcher = fixture.Cluster.GrainFactory.GetGrain<IDispatcherGrain>(ClusterFixture.BurstModel);
        var picks = new List<string>();
        for (var i = 0; i < 8; i++)
            picks.Add((await dispatcher.DispatchAsync(Spec($"burst-{i}") with { Model = ClusterFixture.BurstModel }, [])).InstanceId!);
        // The dispatcher counts what it sent into its copy of the loads, so 8 quick picks land 2 per instance.
        Assert.All(picks.GroupBy(p => p), g => Assert.Equal(2, g.Count()));
        Assert.Equal(ClusterFixture.Instances, picks.Distinct().Count());
    }

    [Fact]
    public async Task Abort_RunningRequest_FreesItsKvBlocks()
    {
        await fixture.WaitForInstancesAsync();
        var sink = new CollectingSink();
        var reference = fixture.Cluster.Client.CreateObjectReference<ITokenSink>(sink);
        var instance = fixture.Cluster.GrainFactory.GetGrain<IInstanceGrain>($"{ClusterFixture.Model}-3");
        await instance.AdmitAsync(Spec("abort-1", prompt: 200, maxTokens: 5000), reference);

        for (var i = 0; i < 100 && !sink.Chunks.ContainsKey("abort-1"); i++)
            await Task.Delay(10);
        Assert.True((await instance.GetLoadAsync()).UsedKvBlocks >= 13, "a 200-token prompt holds at least 13 blocks once running");

        Assert.True(await instance.AbortAsync("abort-1"));
        var load = await instance.GetLoadAsync();
        Assert.Equal(0, load.RunningRequests);
        Assert.Equal(0, load.UsedKvBlocks);
    }

    [Fact]
    public async Task Admit_RequestLargerThanEngine_EndsWithErrorChunkNamingTheLimit()
    {
        await fixture.WaitForInstancesAsync();
        var sink = new CollectingSink();
        var reference = fixture.Cluster.Client.CreateObjectReference<ITokenSink>(sink);
        var instance = fixture.Cluster.GrainFactory.GetGrain<IInstanceGrain>($"{ClusterFixture.Model}-2");
        await instance.AdmitAsync(Spec("too-big", prompt: 16 * 70, maxTokens: 1), reference);
        var chunk = Assert.Single(await sink.WaitAsync("too-big"));
        Assert.Equal(FinishReason.Error, chunk.FinishReason);
        Assert.Contains("more KV blocks than this engine has", chunk.Error);
    }

    [Fact]
    public async Task Drain_Instance_RefusesNewRequestsAndLeavesDispatch()
    {
        await fixture.WaitForInstancesAsync();
        var grains = fixture.Cluster.GrainFactory;
        var scheduler = grains.GetGrain<ISchedulerGrain>(ClusterFixture.Model);
        Assert.Equal(ClusterFixture.Instances, (await scheduler.GetInstancesAsync()).Count);
        var drained = grains.GetGrain<IInstanceGrain>($"{ClusterFixture.Model}-1");
        await drained.DrainAsync();
        try
        {
            var refused = await drained.AdmitAsync(Spec("drain-1"), fixture.Cluster.Client.CreateObjectReference<ITokenSink>(new CollectingSink()));
            Assert.False(refused.Accepted);
            Assert.Contains("draining", refused.Reason);
        }
        finally
        {
            await drained.ResumeAsync();
        }
        Assert.True((await drained.AdmitAsync(Spec("drain-2"), fixture.Cluster.Client.CreateObjectReference<ITokenSink>(new CollectingSink()))).Accepted);
    }
}
