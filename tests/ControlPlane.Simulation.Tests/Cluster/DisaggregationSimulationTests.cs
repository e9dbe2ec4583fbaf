using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

/// <summary>Prefill/decode disaggregation in the simulator: the production decider and balancer, the engines' own export and import.</summary>
public class DisaggregationSimulationTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default);

    /// <summary>Every third request has a long prompt; the others are short.</summary>
    private static SimulatedRequest[] Mixed(int count = 60, double gapMs = 50) =>
    [
        .. Enumerable.Range(0, count).Select(i => i % 3 == 0
            ? new SimulatedRequest(i * gapMs, 3000, 100)
            : new SimulatedRequest(i * gapMs, 100, 100)),
    ];

    private static SimulationResult Run(SimulatedRequest[] requests, DisaggregationSimulationConfig? pd, int instances = 4) => new ClusterSimulator(new ClusterSimulationConfig
    {
        Instances = instances,
        Profile = Profile,
        Dispatch = new DispatchConfig { Policy = "least-kv-usage", QueueLimit = 1000 },
        Disaggregation = pd,
    }).Run(requests);

    [Fact]
    public void StaticSplit_LongPromptsPrefillOnThePrefillPool_AndDecodeOnTheDecodePool_WithEveryToken()
    {
        var requests = Mixed();
        // At 25 GB/s (an InfiniBand link) the copy of each prefill chunk hides behind the next chunk.
        var result = Run(requests, new DisaggregationSimulationConfig { PrefillInstances = 1, BandwidthGBps = 25, Decider = new DisaggregationConfig { MinPromptTokens = 1000 } });
        var pd = result.Disaggregation!;
        Assert.Equal(20, pd.Split);
        Assert.Equal(20, pd.HandedOff);
        Assert.Equal(0, pd.FellBack);
        Assert.All(result.Outcomes, o => Assert.Null(o.Error));
        Assert.Equal(requests.Select(r => r.OutputTokens), result.Outcomes.Select(o => o.OutputTokens));
        // Every request ends on a decode instance; the long ones' first tokens came before their handoff's stop ended.
        Assert.All(result.Outcomes, o => Assert.NotEqual(0, o.Instance));
        Assert.All(pd.HandoffMs, ms => Assert.InRange(ms, 2, 30)); // the last blocks and the commit, not the prompt (3,000 tokens: 16 ms at 25 GB/s)
        Assert.True(pd.Bytes > 20L * 3000 * 131_072 * 9 / 10, "the prompts' keys and values moved");
    }

    [Fact]
    public void OneTokenRequests_FinishOnThePrefillInstance_NothingMoves()
    {
        SimulatedRequest[] requests = [.. Enumerable.Range(0, 6).Select(i => new SimulatedRequest(i * 10, 3000, 1))];
        var result = Run(requests, new DisaggregationSimulationConfig { PrefillInstances = 1, Decider = new DisaggregationConfig { MinPromptTokens = 1000 } });
        Assert.Equal(6, result.Disaggregation!.Split);
        Assert.Equal(0, result.Disaggregation.HandedOff);
        Assert.All(result.Outcomes, o => Assert.Equal(0, o.Instance));
    }

    [Fact]
    public void HandoffWaitsForTheDataPath_ASlowLinkDelaysTheSecondTokenNotTheFirst()
    {
        SimulatedRequest[] one = [new(0, 3000, 50)];
        var fast = Run(one, new DisaggregationSimulationConfig { PrefillInstances = 1, BandwidthGBps = 50 }, instances: 2);
        var slow = Run(one, new DisaggregationSimulationConfig { PrefillInstances = 1, BandwidthGBps = 0.5 }, instances: 2);
        Assert.Equal(fast.Outcomes[0].FirstTokenMs, slow.Outcomes[0].FirstTokenMs);
        // 3,000 tokens × 128 KiB at 0.5 GB/s is 786 ms: the prefill (well under that) cannot hide it; at 50 GB/s it hides.
        Assert.True(slow.Outcomes[0].EndMs - fast.Outcomes[0].EndMs > 300, $"{slow.Outcomes[0].EndMs} vs {fast.Outcomes[0].EndMs}");
        Assert.True(fast.Disaggregation!.HandoffMs[0] < 10);
    }

    [Fact]
    public void AdaptiveRoles_PromptsPileUpOnOnePrefillInstance_ADecodeInstanceJoinsThePrefillPool()
    {
        // Long prompts, short outputs: the prefill pool of one is the bottleneck while the decode pool idles.
        SimulatedRequest[] requests = [.. Enumerable.Range(0, 400).Select(i => new SimulatedRequest(i * 25, 6000, 20))];
        var config = new DisaggregationSimulationConfig
        {
            PrefillInstances = 1,
            Decider = new DisaggregationConfig
            {
                MinPromptTokens = 1000, MaxQueuedPromptTokens = int.MaxValue,
                Pools = new PoolBalanceConfig { Enabled = true, Period = TimeSpan.FromMilliseconds(500), Cooldown = TimeSpan.FromSeconds(1), PrefillHighTokens = 20_000 },
            },
        };
        var adaptive = Run(requests, config, instances: 6);
        var fixedSplit = Run(requests, config with { Decider = config.Decider with { Pools = new PoolBalanceConfig() } }, instances: 6);
        Assert.True(adaptive.Disaggregation!.RoleChanges >= 1, "no instance changed role");
        Assert.Equal(0, fixedSplit.Disaggregation!.RoleChanges);
        Assert.All(adaptive.Outcomes, o => Assert.Null(o.Error));
        var p90 = (SimulationResult r) => r.Outcomes.Select(o => o.FirstTokenMs!.Value - o.ArrivalMs).Order().ElementAt(r.Outcomes.Count * 9 / 10);
        Assert.True(p90(adaptive) < p90(fixedSplit), $"P90 TTFT {p90(adaptive):0} ms adaptive vs {p90(fixedSplit):0} ms fixed");
    }

    [Fact]
    public void NoPrefillPool_NorSplits_IsTheColocatedRun()
    {
        var requests = Mixed();
        var colocated = Run(requests, null);
        var off = Run(requests, new DisaggregationSimulationConfig { PrefillInstances = 0, Decider = new DisaggregationConfig { Enabled = false } });
        Assert.Null(colocated.Disaggregation);
        Assert.Equal(0, off.Disaggregation!.Split);
        Assert.Equal(colocated.Outcomes.Select(o => (o.FirstTokenMs, o.EndMs, o.Instance)), off.Outcomes.Select(o => (o.FirstTokenMs, o.EndMs, o.Instance)));
    }

    [Fact]
    public void ShortPrompts_AreNotSplit()
    {
        SimulatedRequest[] requests = [.. Enumerable.Range(0, 20).Select(i => new SimulatedRequest(i * 10, 200, 20))];
        var result = Run(requests, new DisaggregationSimulationConfig { PrefillInstances = 1, Decider = new DisaggregationConfig { MinPromptTokens = 1000 } });
        Assert.Equal(0, result.Disaggregation!.Split);
        Assert.All(result.Outcomes, o => Assert.NotEqual(0, o.Instance));
    }
}
