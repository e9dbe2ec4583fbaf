using ControlPlane.Instances;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Tests.Dispatch;

namespace ControlPlane.Scheduling.Tests.Autoscaling;

/// <summary>The autoscaling planner on hand-made load histories.</summary>
public class AutoscalePlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);
    private static readonly AutoscaleConfig Config = new()
    {
        Enabled = true, TargetUsage = 0.5, BatchCapacity = 100, ScaleUpWindow = TimeSpan.FromSeconds(15), ScaleDownWindow = TimeSpan.FromSeconds(60),
        IdleToZero = TimeSpan.FromSeconds(120),
    };

    /// <summary><paramref name="count"/> instances, each running <paramref name="running"/> requests (of a batch capacity of 100).</summary>
    private static InstanceLoad[] Pool(int count, int running, int usedBlocks = 0) =>
        [.. Enumerable.Range(0, count).Select(i => Loads.Of($"i{i}", running: running, used: usedBlocks, total: 1000))];

    [Fact]
    public void Recommendation_IsDemandOverTheTarget_FromBatchOccupancyOrKvUsage()
    {
        var planner = new AutoscalePlanner(Config, 1, 20);
        // 4 instances at 60 running of 100: demand 2.4 instances, at 50% target: 5.
        Assert.Equal(5, planner.Recommend(new PoolSample(4, Pool(4, 60))));
        // KV bound: 4 instances at 900 of 1,000 blocks with 10 running: demand 3.6: 8.
        Assert.Equal(8, planner.Recommend(new PoolSample(4, Pool(4, 10, usedBlocks: 900))));
        // TTFT or TPOT past its objective: one more than now, whatever the usage says; met: the usage decides.
        Assert.Equal(5, planner.Recommend(new PoolSample(4, Pool(4, 10), TtftP90Ms: 3000, SloTtftMs: 1000)));
        Assert.Equal(5, planner.Recommend(new PoolSample(4, Pool(4, 10), TpotP90Ms: 180, SloTpotMs: 100)));
        Assert.Equal(1, planner.Recommend(new PoolSample(4, Pool(4, 10), TtftP90Ms: 300, SloTtftMs: 1000, TpotP90Ms: 40, SloTpotMs: 100)));
        // The replica added for a miss is starting (5 decided, 4 report) and the miss persists: no sixth while it starts.
        Assert.Equal(5, planner.Recommend(new PoolSample(5, Pool(4, 10), TtftP90Ms: 3000, SloTtftMs: 1000)));
        // Growth at most doubles per plan.
        Assert.Equal(4, planner.Recommend(new PoolSample(2, Pool(2, 100, usedBlocks: 1000))));
        // Bounds.
        Assert.Equal(20, new AutoscalePlanner(Config, 1, 20).Recommend(new PoolSample(16, Pool(16, 100))));
        Assert.Equal(3, new AutoscalePlanner(Config, 3, 20).Recommend(new PoolSample(4, Pool(4, 0))));
    }

    [Fact]
    public void ScaleOut_WaitsForTheBurstToLastTheUpWindow()
    {
        var planner = new AutoscalePlanner(Config, 1, 20);
        Assert.Equal(4, planner.Plan(new PoolSample(4, Pool(4, 40)), T0)); // 3.2 → 4: steady
        Assert.Equal(4, planner.Plan(new PoolSample(4, Pool(4, 90)), T0.AddSeconds(5))); // a burst: 8, but 4 was recommended 5 s ago
        Assert.Equal(4, planner.Plan(new PoolSample(4, Pool(4, 90)), T0.AddSeconds(10)));
        Assert.Equal(8, planner.Plan(new PoolSample(4, Pool(4, 90)), T0.AddSeconds(20))); // the whole window says 8
    }

    [Fact]
    public void ScaleIn_TakesTheHighestRecommendationOfTheDownWindow_NoFlapping()
    {
        var planner = new AutoscalePlanner(Config, 1, 20);
        Assert.Equal(8, planner.Plan(new PoolSample(8, Pool(8, 50)), T0)); // 8
        Assert.Equal(8, planner.Plan(new PoolSample(8, Pool(8, 10)), T0.AddSeconds(30))); // 2 now, 8 within the window
        Assert.Equal(8, planner.Plan(new PoolSample(8, Pool(8, 50)), T0.AddSeconds(40))); // back up: nothing changed meanwhile
        Assert.Equal(8, planner.Plan(new PoolSample(8, Pool(8, 10)), T0.AddSeconds(90)));
        Assert.Equal(2, planner.Plan(new PoolSample(8, Pool(8, 10)), T0.AddSeconds(101))); // the window holds only 2s
    }

    [Fact]
    public void ToZero_OnlyAfterTheIdleWindow_AndBackAtTheFirstHeldRequest()
    {
        var planner = new AutoscalePlanner(Config, 0, 20);
        Assert.Equal(2, planner.Plan(new PoolSample(2, Pool(2, 20)), T0));
        Assert.Equal(2, planner.Plan(new PoolSample(2, Pool(2, 0)), T0.AddSeconds(30)));
        Assert.Equal(1, planner.Plan(new PoolSample(2, Pool(2, 0)), T0.AddSeconds(70))); // idle, but not for 120 s
        Assert.Equal(1, planner.Plan(new PoolSample(1, Pool(1, 0)), T0.AddSeconds(110)));
        Assert.Equal(0, planner.Plan(new PoolSample(1, Pool(1, 0)), T0.AddSeconds(125)));
        Assert.Equal(0, planner.Plan(new PoolSample(0, []), T0.AddSeconds(200)));
        Assert.Equal(1, planner.Plan(new PoolSample(0, [], Pending: 3), T0.AddSeconds(201)));
        // With a minimum of one the pool never goes to zero.
        var kept = new AutoscalePlanner(Config, 1, 20);
        Assert.Equal(1, kept.Plan(new PoolSample(1, Pool(1, 0)), T0));
        Assert.Equal(1, kept.Plan(new PoolSample(1, Pool(1, 0)), T0.AddHours(1)));
    }

    [Fact]
    public void Lookahead_SizesARisingDemandForWhenANewInstanceWillHaveStarted()
    {
        var config = Config with { ScaleUpWindow = TimeSpan.Zero, Lookahead = TimeSpan.FromSeconds(60), TrendWindow = TimeSpan.FromSeconds(60) };
        var ahead = new AutoscalePlanner(config, 1, 20);
        var now = new AutoscalePlanner(Config with { ScaleUpWindow = TimeSpan.Zero }, 1, 20);
        Assert.Equal(4, ahead.Plan(new PoolSample(4, Pool(4, 40)), T0)); // demand 1.6: 4 at a 50% target
        Assert.Equal(4, now.Plan(new PoolSample(4, Pool(4, 40)), T0));
        // 30 s later the demand is 2.4 and rising 0.027/s: in 60 s it will be 4.0, so 8 now; without lookahead 5.
        Assert.Equal(8, ahead.Plan(new PoolSample(4, Pool(4, 60)), T0.AddSeconds(30)));
        Assert.Equal(5, now.Plan(new PoolSample(4, Pool(4, 60)), T0.AddSeconds(30)));
        // A flat demand is not projected: 2.4 for a minute, 5 instances (the scale-down window has passed).
        Assert.Equal(5, ahead.Plan(new PoolSample(8, Pool(8, 30)), T0.AddSeconds(211)));
    }

    [Fact]
    public void ANewPool_IsNotIdleFromItsFirstPlan()
    {
        var planner = new AutoscalePlanner(Config, 0, 4);
        Assert.Equal(1, planner.Plan(new PoolSample(1, Pool(1, 0)), T0));
        Assert.Equal(1, planner.Plan(new PoolSample(1, Pool(1, 0)), T0.AddSeconds(60)));
        Assert.Equal(0, planner.Plan(new PoolSample(1, Pool(1, 0)), T0.AddSeconds(121)));
    }
}
