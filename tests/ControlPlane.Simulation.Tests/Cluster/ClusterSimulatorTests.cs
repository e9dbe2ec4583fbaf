using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

public class ClusterSimulatorTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default);

    private static ClusterSimulator Simulator(int instances, string policy, int queueLimit = 256, int? blocks = null) => new(new ClusterSimulationConfig
    {
        Instances = instances,
        Profile = blocks is { } b ? Profile with { TotalKvBlocks = b } : Profile,
        Dispatch = new DispatchConfig { Policy = policy, QueueLimit = queueLimit },
        Seed = 3,
    });

    private static List<SimulatedRequest> Poisson(int count, double ratePerSecond, int seed)
    {
        var random = new Random(seed);
        var at = 0.0;
        var list = new List<SimulatedRequest>();
        for (var i = 0; i < count; i++)
        {
            list.Add(new SimulatedRequest(at, random.Next(50, 2000), random.Next(1, 300)));
            at += -Math.Log(1 - random.NextDouble()) / ratePerSecond * 1000;
        }
        return list;
    }

    [Fact]
    public void Run_SameSeedAndTrace_IsDeterministic()
    {
        var trace = Poisson(2000, 40, seed: 1);
        var a = Simulator(8, "least-kv-usage").Run(trace);
        var b = Simulator(8, "least-kv-usage").Run(trace);
        Assert.Equal(a.Outcomes, b.Outcomes);
        Assert.Equal(a.Steps, b.Steps);
    }

    [Fact]
    public void Run_Conservation_EveryRequestEndsAndTokensAddUp()
    {
        var trace = Poisson(3000, 200, seed: 2); // well beyond 4 instances' capacity: queues fill, some are refused
        var result = Simulator(4, "least-request", queueLimit: 20).Run(trace);
        Assert.Equal(trace.Count, result.Outcomes.Count);
        var ok = result.Outcomes.Where(o => o.Error is null).ToArray();
        var refused = result.Outcomes.Where(o => o.Error is not null).ToArray();
        Assert.NotEmpty(refused);
        Assert.All(refused, o => Assert.Equal("http_429", o.Error));
        Assert.Equal(trace.Count, ok.Length + refused.Length);
        Assert.All(ok, o => Assert.Equal(trace[o.Index].OutputTokens, o.OutputTokens));
        Assert.All(ok, o => Assert.True(o.ArrivalMs <= o.FirstTokenMs && o.FirstTokenMs <= o.EndMs, $"request {o.Index} has its times out of order"));
        Assert.True(result.Preemptions >= 0);
    }

    [Fact]
    public void RoundRobin_SimultaneousEqualRequests_SpreadEvenly()
    {
        var trace = Enumerable.Range(0, 12).Select(_ => new SimulatedRequest(0, 100, 10)).ToList();
        var result = Simulator(4, "round-robin").Run(trace);
        Assert.All(result.Outcomes.GroupBy(o => o.Instance), g => Assert.Equal(3, g.Count()));
    }

    [Fact]
    public void LeastKvUsage_LongPromptFirst_SendsLaterRequestsElsewhere()
    {
        // One 6,000-token request lands first; then short ones arrive within the same report period.
        var trace = new List<SimulatedRequest> { new(0, 6000, 200) };
        trace.AddRange(Enumerable.Range(1, 6).Select(i => new SimulatedRequest(i, 100, 10)));
        var result = Simulator(2, "least-kv-usage", blocks: 800).Run(trace);
        var big = result.Outcomes[0].Instance;
        Assert.All(result.Outcomes.Skip(1), o => Assert.NotEqual(big, o.Instance));
    }

    [Fact]
    public void LeastRequest_BeatsRoundRobinOnSkewedLengths_AtHighLoad()
    {
        // Alternating huge and tiny requests: round-robin stacks every huge one on the same instances.
        var trace = Enumerable.Range(0, 400).Select(i => new SimulatedRequest(i * 12.5, i % 2 == 0 ? 3000 : 50, i % 2 == 0 ? 400 : 5)).ToList();
        double P99Ttft(string policy)
        {
            var ttft = Simulator(2, policy).Run(trace).Outcomes.Select(o => o.FirstTokenMs!.Value - o.ArrivalMs).Order().ToArray();
            return ttft[(int)(ttft.Length * 0.99)];
        }
        Assert.True(P99Ttft("least-kv-usage") < P99Ttft("round-robin"), "least-kv-usage should cut the p99 TTFT of a skewed trace");
    }
}
