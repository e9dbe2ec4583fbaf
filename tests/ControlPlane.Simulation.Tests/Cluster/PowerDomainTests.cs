using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Power;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Cluster;

public class PowerDomainTests
{
    private static readonly PerformanceProfile Profile = PerformanceProfile.Load("llama-3-8b-h100-torchsharp");

    private static SimulationResult Run(double budget, PowerControllerConfig? controller)
    {
        var random = new Random(4);
        var trace = Enumerable.Range(0, 600).Select(i => new SimulatedRequest(i * 20.0, random.Next(500, 3000), random.Next(20, 200), null,
            i % 3 == 0 ? ServiceClass.Batch : ServiceClass.Interactive)).ToArray();
        return new ClusterSimulator(new ClusterSimulationConfig
        {
            Instances = 4,
            Profile = Profile,
            Dispatch = new DispatchConfig { Policy = "power-aware", QueueLimit = int.MaxValue },
            Power = new PowerSimulationConfig { BudgetWatts = budget, Controller = controller },
        }).Run(trace);
    }

    [Fact]
    public void Run_UncappedOverATightBudget_CountsBreachesAndEnergy()
    {
        var result = Run(budget: 4 * 700 * 0.6, controller: null);
        var power = result.Power!;
        Assert.True(power.Breaches > 0, "four busy GPUs must draw more than 60% of their peak some of the time");
        Assert.Equal(0, power.CappedPeriods);
        Assert.True(power.EnergyJoules > power.Periods * 4 * Profile.Power!.IdleWatts * 0.9, "energy is at least the idle draw over the run");
        Assert.True(power.PeakPeriodWatts <= 4 * Profile.Power.MaxWatts + 1e-6);
    }

    [Fact]
    public void Run_WithTheController_CapsAndDrawsLessAtTheCostOfTime()
    {
        var free = Run(budget: 4 * 700 * 0.6, controller: null);
        var capped = Run(budget: 4 * 700 * 0.6, controller: new PowerControllerConfig());
        Assert.True(capped.Power!.CappedPeriods > 0);
        Assert.True(capped.Power.PeakPeriodWatts < free.Power!.PeakPeriodWatts, $"caps must lower the peak ({capped.Power.PeakPeriodWatts:0} W against {free.Power.PeakPeriodWatts:0} W)");
        Assert.True(capped.VirtualMs > free.VirtualMs, "capped prefill runs longer");
        Assert.Equal(free.Outcomes.Count(o => o.Error is null), capped.Outcomes.Count(o => o.Error is null)); // slower, nothing lost
    }
}
