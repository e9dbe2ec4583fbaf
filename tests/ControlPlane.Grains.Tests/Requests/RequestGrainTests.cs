using ControlPlane.Requests;

namespace ControlPlane.Grains.Tests.Requests;

[Collection(ClusterCollection.Name)]
public class RequestGrainTests(ClusterFixture fixture)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);

    private static RequestSpec Spec(string id) => new()
    {
        RequestId = id,
        Model = ClusterFixture.Model,
        PromptTokenIds = [1, 2, 3],
        Sampling = new SamplingParameters { MaxTokens = 4 },
        ServiceClass = ServiceClass.Interactive,
        Priority = 3,
        ArrivedAt = T0,
    };

    private static RequestTransition To(RequestPhase phase, int second, string? instance = null) =>
        new() { To = phase, At = T0.AddSeconds(second), InstanceId = instance };

    [Fact]
    public async Task Advance_BeforeTheStartLands_IsAppliedAfterIt()
    {
        // The instance writes decoding and the ending, the gateway the start; their calls are not ordered.
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("early-1");
        await grain.AdvanceAsync(To(RequestPhase.Decoding, 1, "i-0"));
        await grain.AdvanceAsync(To(RequestPhase.Finished, 2) with { Usage = new RequestUsage(3, 4, 0), FinishReason = FinishReason.Length });
        await grain.StartAsync(Spec("early-1"), "i-0");
        var status = await grain.GetStatusAsync();
        Assert.Equal([RequestPhase.Queued, RequestPhase.Prefilling, RequestPhase.Decoding, RequestPhase.Finished], status.History);
        Assert.Equal(4, status.CompletionTokens);
    }

    [Fact]
    public async Task Advance_FullLifecycleWithMigration_RecordsPhasesAndInstances()
    {
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("life-1");
        await grain.StartAsync(Spec("life-1"));
        await grain.AdvanceAsync(To(RequestPhase.Prefilling, 1, "p-0"));
        await grain.AdvanceAsync(To(RequestPhase.Transferring, 2, "d-0"));
        await grain.AdvanceAsync(To(RequestPhase.Decoding, 3, "d-0"));
        await grain.AdvanceAsync(To(RequestPhase.Migrating, 4, "d-1"));
        await grain.AdvanceAsync(To(RequestPhase.Decoding, 5, "d-1"));
        var status = await grain.AdvanceAsync(To(RequestPhase.Finished, 6) with { Usage = new RequestUsage(3, 4, 0), FinishReason = FinishReason.Length });

        Assert.Equal(RequestPhase.Finished, status.Phase);
        Assert.Equal(
            [RequestPhase.Queued, RequestPhase.Prefilling, RequestPhase.Transferring, RequestPhase.Decoding, RequestPhase.Migrating, RequestPhase.Decoding, RequestPhase.Finished],
            status.History);
        Assert.Equal(["p-0", "d-0", "d-1"], status.Instances);
        Assert.Equal(T0.AddSeconds(3), status.FirstTokenAt);
        Assert.Equal(T0.AddSeconds(6), status.EndedAt);
        Assert.Equal(4, status.CompletionTokens);
        Assert.Equal(ServiceClass.Interactive, status.ServiceClass);
        Assert.Equal(3, status.Priority);
    }

    [Fact]
    public async Task Advance_AfterFinished_ThrowsAndKeepsState()
    {
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("life-2");
        await grain.StartAsync(Spec("life-2"));
        await grain.AdvanceAsync(To(RequestPhase.Cancelled, 1));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.AdvanceAsync(To(RequestPhase.Decoding, 2, "x")));
        Assert.Contains("from Cancelled to Decoding", ex.Message);
        var status = await grain.GetStatusAsync();
        Assert.Equal(RequestPhase.Cancelled, status.Phase);
        Assert.Empty(status.Instances);
    }

    [Fact]
    public async Task Advance_SecondEnding_TheFirstStands()
    {
        // A client cancels as the instance finishes: both write an ending, in either order.
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("life-5");
        await grain.StartAsync(Spec("life-5"), "i1");
        await grain.AdvanceAsync(To(RequestPhase.Finished, 2));
        var status = await grain.AdvanceAsync(To(RequestPhase.Cancelled, 3));
        Assert.Equal(RequestPhase.Finished, status.Phase);
        Assert.Equal(RequestPhase.Finished, (await grain.GetStatusAsync()).Phase);
    }

    [Fact]
    public async Task Advance_SkippingPrefill_IsIllegal()
    {
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("life-3");
        await grain.StartAsync(Spec("life-3"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.AdvanceAsync(To(RequestPhase.Migrating, 1, "x")));
        Assert.Equal(RequestPhase.Queued, (await grain.GetStatusAsync()).Phase);
    }

    [Fact]
    public async Task Start_Twice_IsRefused()
    {
        var grain = fixture.Cluster.GrainFactory.GetGrain<IRequestGrain>("life-4");
        await grain.StartAsync(Spec("life-4"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.StartAsync(Spec("life-4")));
    }
}
