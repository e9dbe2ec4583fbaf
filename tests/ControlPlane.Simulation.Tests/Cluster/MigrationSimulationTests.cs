using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

/// <summary>Live migration in the simulator: the production planner and the engines' own staged export, suspend and import.</summary>
public class MigrationSimulationTests
{
    // 100 blocks of 16 tokens per instance: four long requests fill one instance.
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default) with { TotalKvBlocks = 100, MaxContextTokens = 1600 };

    /// <summary>Round-robin over four instances sends every fourth request, the long ones, to instance 0.</summary>
    private static SimulatedRequest[] Skewed() =>
    [
        .. Enumerable.Range(0, 32).Select(i => i % 4 == 0
            ? new SimulatedRequest(i * 20, 300, 500)
            : new SimulatedRequest(i * 20, 40, 20)),
    ];

    private static SimulationResult Run(bool migration) => new ClusterSimulator(new ClusterSimulationConfig
    {
        Instances = 4,
        Profile = Profile,
        Dispatch = new DispatchConfig { Policy = "round-robin", QueueLimit = 1000 },
        Migration = migration ? new MigrationSimulationConfig { Planner = new MigrationConfig { MaxConcurrent = 2 } } : null,
    }).Run(Skewed());

    [Fact]
    public void SkewedLoad_MigrationMovesLongRequestsOff_AndEveryRequestFinishesWithAllItsTokens()
    {
        var without = Run(migration: false);
        var with = Run(migration: true);
        Assert.NotNull(with.Migration);
        Assert.True(with.Migration!.Committed > 0, "nothing moved off the overloaded instance");
        Assert.All(with.Migration.StopMs, s => Assert.InRange(s, 0, 50)); // a few blocks in the stop, not the context
        Assert.All(with.Outcomes, o => Assert.Null(o.Error));
        var requests = Skewed();
        Assert.Equal(requests.Select(r => r.OutputTokens), with.Outcomes.Select(o => o.OutputTokens));
        // Instance 0 alone preempts without migration; moving long requests to the idle instances relieves it.
        Assert.True(without.Preemptions > 0, "the skew should overload instance 0");
        Assert.True(with.Preemptions < without.Preemptions, $"preemptions {with.Preemptions} with migration, {without.Preemptions} without");
        Assert.True(with.Outcomes.Max(o => o.EndMs) < without.Outcomes.Max(o => o.EndMs), "the long requests should finish sooner spread out");
        Assert.Contains(with.Outcomes, o => o.Index % 4 == 0 && o.Instance != 0); // a long request ended elsewhere
    }

    [Fact]
    public void MigrationOff_IsTheRunWithoutIt()
    {
        var off = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 4, Profile = Profile, Dispatch = new DispatchConfig { Policy = "round-robin", QueueLimit = 1000 },
            Migration = new MigrationSimulationConfig { Planner = new MigrationConfig { Enabled = false } },
        }).Run(Skewed());
        var none = Run(migration: false);
        Assert.Null(off.Migration);
        Assert.Equal(none.Outcomes.Select(o => o.EndMs), off.Outcomes.Select(o => o.EndMs));
    }
}
