using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

public class PrefixCacheTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default);

    [Fact]
    public void Run_TraceWithNamedPrefixBlocks_HitsExactlyTheHandComputedShare()
    {
        // Trace blocks of 32 tokens (two 16-token engine blocks each); requests far apart, so each finds the
        // one before it finished and its blocks cached.
        SimulatedRequest[] trace =
        [
            new(0, 64, 4, [1, 2]),        // cold: 0 cached
            new(10_000, 64, 4, [1, 2]),   // the same prompt: 3 of its 4 engine blocks (its last token is recomputed) = 48
            new(20_000, 80, 4, [1, 3, 4]), // shares trace block 1 = two engine blocks = 32
            new(30_000, 40, 4),           // no named blocks: its own tokens, 0
        ];
        var result = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 1,
            Profile = Profile,
            Dispatch = new DispatchConfig { Policy = "round-robin" },
            TraceBlockTokens = 32,
        }).Run(trace);
        Assert.Equal([0, 48, 32, 0], result.Outcomes.Select(o => o.CachedTokens));
        Assert.Equal(80.0 / 248, result.PrefixHitRate, 9);
    }

    [Fact]
    public void Run_TraceWithoutNamedBlocks_NeverHits()
    {
        var trace = Enumerable.Range(0, 50).Select(i => new SimulatedRequest(i * 100, 300, 10)).ToArray();
        var result = new ClusterSimulator(new ClusterSimulationConfig { Instances = 2, Profile = Profile }).Run(trace);
        Assert.Equal(0, result.PrefixHitRate);
    }
}
