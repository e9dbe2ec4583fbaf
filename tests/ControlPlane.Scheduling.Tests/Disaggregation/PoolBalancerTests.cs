using ControlPlane.Instances;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Tests.Dispatch;

namespace ControlPlane.Scheduling.Tests.Disaggregation;

/// <summary>The pool balancer's role changes on hand-made loads.</summary>
public class PoolBalancerTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);

    private static PoolBalancer Balancer() => new(new PoolBalanceConfig
    {
        Enabled = true, PrefillHighTokens = 8192, PrefillLowTokens = 1024, DecodeHighUsage = 0.85, DecodeLowUsage = 0.5, Cooldown = TimeSpan.FromSeconds(10),
    });

    private static InstanceLoad P(string id, int queuedBlocks) => Loads.Of(id, role: InstanceRole.Prefill, waitingBlocks: queuedBlocks);

    private static InstanceLoad D(string id, int used, int total = 100) => Loads.Of(id, role: InstanceRole.Decode, used: used, total: total);

    [Fact]
    public void PromptsPileUp_TheLeastUsedDecodeInstanceBecomesAPrefillInstance()
    {
        // 2 × 640 blocks of 16 tokens queued: 10,240 prompt tokens per prefill instance; decode pool at 20%.
        var change = Balancer().Plan([P("p0", 640), P("p1", 640), D("d0", 30), D("d1", 10), D("d2", 20)], [], Now);
        Assert.NotNull(change);
        Assert.Equal(("d1", InstanceRole.Decode, InstanceRole.Prefill), (change.InstanceId, change.From, change.To));
    }

    [Fact]
    public void DecodePoolFull_TheLeastQueuedPrefillInstanceBecomesADecodeInstance()
    {
        var change = Balancer().Plan([P("p0", 20), P("p1", 5), D("d0", 90), D("d1", 95)], [], Now);
        Assert.NotNull(change);
        Assert.Equal(("p1", InstanceRole.Prefill, InstanceRole.Decode), (change.InstanceId, change.From, change.To));
    }

    [Fact]
    public void NoChange_WhenTheDonorPoolWouldBeShortAfterwards_OrAtItsMinimum()
    {
        // Prompts pile up, but the decode pool would be at 60% (above the low mark) without one of its instances.
        Assert.Null(Balancer().Plan([P("p0", 1000), D("d0", 30), D("d1", 30)], [], Now));
        // The decode pool is full, but the prefill pool would be at 1,600 queued tokens per instance (above the low mark).
        Assert.Null(Balancer().Plan([P("p0", 100), P("p1", 100), D("d0", 90)], [], Now));
        // The decode pool is full, and the prefill pool is at its minimum of one.
        Assert.Null(Balancer().Plan([P("p0", 0), D("d0", 90)], [], Now));
        // Balanced: nothing to do.
        Assert.Null(Balancer().Plan([P("p0", 100), D("d0", 60), D("d1", 60)], [], Now));
    }

    [Fact]
    public void OneChangeAtATime_ThenACooldown()
    {
        var balancer = Balancer();
        InstanceLoad[] piling = [P("p0", 1000), D("d0", 10), D("d1", 10), D("d2", 10)];
        Assert.Null(balancer.Plan(piling, ["d9"], Now)); // a change still draining
        Assert.NotNull(balancer.Plan(piling, [], Now));
        Assert.Null(balancer.Plan(piling, [], Now.AddSeconds(5)));
        Assert.NotNull(balancer.Plan(piling, [], Now.AddSeconds(11)));
        Assert.Null(new PoolBalancer(new PoolBalanceConfig()).Plan(piling, [], Now)); // off by default
    }

    [Fact]
    public void NoPrefillPool_TheDecodeInstancesQueueIsTheDemand()
    {
        var change = Balancer().Plan([Loads.Of("d0", role: InstanceRole.Decode, used: 5, waitingBlocks: 800, total: 1000), D("d1", 5, 1000), D("d2", 5, 1000)], [], Now);
        Assert.NotNull(change);
        Assert.Equal(InstanceRole.Prefill, change.To);
    }
}
