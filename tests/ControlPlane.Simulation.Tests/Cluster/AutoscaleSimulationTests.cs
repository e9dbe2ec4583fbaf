using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

/// <summary>Autoscaling in the simulator: the production planner, instances that start late and drain before they go.</summary>
public class AutoscaleSimulationTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default) with { MaxRunningRequests = 16 };

    private static readonly AutoscaleConfig Planner = new()
    {
        Enabled = true, Period = TimeSpan.FromSeconds(1), TargetUsage = 0.6, BatchCapacity = 16,
        ScaleUpWindow = TimeSpan.FromSeconds(2), ScaleDownWindow = TimeSpan.FromSeconds(10), IdleToZero = TimeSpan.FromSeconds(20),
    };

    /// <summary>A quiet minute, a busy minute, a quiet minute: requests of 200 prompt and 100 output tokens.</summary>
    private static SimulatedRequest[] Wave()
    {
        var list = new List<SimulatedRequest>();
        for (double t = 0; t < 180_000;)
        {
            var busy = t is >= 60_000 and < 120_000;
            t += busy ? 25 : 500;
            list.Add(new SimulatedRequest(t, 200, 100));
        }
        return [.. list];
    }

    private static SimulationResult Run(AutoscaleSimulationConfig? autoscale, int instances) => new ClusterSimulator(new ClusterSimulationConfig
    {
        Instances = instances, Profile = Profile, Dispatch = new DispatchConfig { Policy = "least-request", QueueLimit = 100_000 }, Autoscale = autoscale,
    }).Run(Wave());

    [Fact]
    public void Wave_TheAutoscalerGrowsForTheBusyMinute_AndShrinksAfter_UsingFewerInstanceHoursThanThePeak()
    {
        var scaled = Run(new AutoscaleSimulationConfig { Planner = Planner, MinReplicas = 1, MaxReplicas = 8, InitialReplicas = 1, StartupMs = 5_000 }, 8);
        var fixedPeak = Run(null, 8);
        var report = scaled.Autoscale!;
        Assert.All(scaled.Outcomes, o => Assert.Null(o.Error));
        var peak = report.Replicas.Max(r => r.Replicas);
        Assert.InRange(peak, 3, 8);
        Assert.True(report.Replicas.Any(r => r.AtMs > 120_000 && r.Replicas < peak), "the pool did not shrink after the busy minute");
        var fixedHours = 8 * fixedPeak.VirtualMs / 3_600_000;
        Assert.True(report.InstanceHours < 0.6 * fixedHours, $"{report.InstanceHours:F3} instance-hours autoscaled against {fixedHours:F3} fixed");
        Assert.True(report.Starts >= 2 && report.Drains >= 1);
    }

    [Fact]
    public void FromZero_RequestsAreHeldUntilAnInstanceStarts_ThenServed()
    {
        SimulatedRequest[] requests = [new(1_000, 100, 10), new(1_200, 100, 10), new(60_000, 100, 10)];
        var result = new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 2, Profile = Profile, Dispatch = new DispatchConfig { Policy = "least-request" },
            Autoscale = new AutoscaleSimulationConfig { Planner = Planner, MinReplicas = 0, MaxReplicas = 2, InitialReplicas = 0, StartupMs = 4_000 },
        }).Run(requests);
        Assert.All(result.Outcomes, o => Assert.Null(o.Error));
        // The first two waited for the start (held about 4 s after the first plan that saw them).
        Assert.All(result.Outcomes.Take(2), o => Assert.InRange(o.FirstTokenMs!.Value - o.ArrivalMs, 3_000, 7_000));
        Assert.True(result.Autoscale!.Held >= 2);
        // Idle for 20 s after them, it went back to zero before the third, which was held again.
        Assert.True(result.Outcomes[2].FirstTokenMs!.Value - result.Outcomes[2].ArrivalMs >= 3_000);
        Assert.Contains(result.Autoscale.Replicas, r => r.AtMs > 10_000 && r.AtMs < 60_000 && r.Replicas == 0);
    }
}
