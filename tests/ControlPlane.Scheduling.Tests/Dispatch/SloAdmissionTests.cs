using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Dispatch.Filters;

namespace ControlPlane.Scheduling.Tests.Dispatch;

/// <summary>Admission by SLO on hand-made loads: the predicted first token against each class's target.</summary>
public class SloAdmissionTests
{
    // 1,000 prompt tokens a second; 16-token blocks.
    private static InstanceLoad Queue(string id, int waitingBlocks, double rate = 1000) =>
        Loads.Of(id, waitingBlocks: waitingBlocks) with { PrefillTokensPerSecond = rate };

    [Fact]
    public void Filter_PredictedFirstTokenAgainstTheClassTarget()
    {
        var filter = new SloAdmissionFilter(new SloAdmissionConfig { Interactive = TimeSpan.FromSeconds(1), Standard = TimeSpan.FromSeconds(4), Batch = TimeSpan.Zero });
        var request = new DispatchRequest(200, 50, ServiceClass.Standard, 0);
        // 100 blocks of 16 waiting + 200 = 1,800 tokens: 1.8 s.
        Assert.True(filter.Admits(request, Queue("a", 100)));
        Assert.False(filter.Admits(request with { ServiceClass = ServiceClass.Interactive }, Queue("a", 100)));
        // No target for batch: it waits.
        Assert.True(filter.Admits(request with { ServiceClass = ServiceClass.Batch }, Queue("a", 10_000)));
        // 300 blocks: 5 s, past the standard 4 s.
        Assert.False(filter.Admits(request, Queue("a", 300)));
        // No rate measured yet: admitted; a resumed request is never refused here.
        Assert.True(filter.Admits(request, Queue("a", 300, rate: 0)));
        Assert.True(filter.Admits(request with { Resumed = true }, Queue("a", 300)));
    }

    [Fact]
    public void View_EveryQueueTooLong_RefusesWithTheLeastWaitThatWouldFit()
    {
        var config = new DispatchConfig { SloAdmission = new SloAdmissionConfig { Standard = TimeSpan.FromSeconds(2) } };
        var view = new DispatchView(DispatchPolicies.Create(config, new Random(0)));
        // 5.2 s and 3.4 s predicted for a 200-token prompt: the second fits 1.4 s from now.
        view.Refresh([Queue("a", 300), Queue("b", 200)]);
        var request = new DispatchRequest(200, 50, ServiceClass.Standard, 0);
        var outcome = view.Dispatch(request, DateTimeOffset.UnixEpoch);
        Assert.Equal(DispatchRefusal.SloMiss, outcome.Refusal);
        var wait = view.RetryAfter(request, outcome.Refusal, config.SloAdmission);
        Assert.NotNull(wait);
        Assert.Equal(1.4, wait.Value.TotalSeconds, 3);
        // A shorter queue somewhere: admitted there, and counted into its queue.
        view.Refresh([Queue("a", 300), Queue("c", 50)]);
        var admitted = view.Dispatch(request, DateTimeOffset.UnixEpoch);
        Assert.True(admitted.Succeeded);
        Assert.Equal("c", view.Loads[admitted.Index].InstanceId);
        Assert.Equal(50 + 13, view.Loads[admitted.Index].WaitingKvBlocks);
    }
}
