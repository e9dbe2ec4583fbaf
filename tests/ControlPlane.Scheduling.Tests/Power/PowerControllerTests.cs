using ControlPlane.Requests;
using ControlPlane.Scheduling.Power;

namespace ControlPlane.Scheduling.Tests.Power;

public class PowerControllerTests
{
    private const double Budget = 1000;

    /// <summary>Four 400 W GPUs: one serving interactive work, one standard, two batch; each draws <paramref name="share"/> of the budget / 4.</summary>
    private static InstancePower[] Domain(double share) =>
    [
        new("i", share * Budget / 4, 400, ServiceClass.Interactive),
        new("s", share * Budget / 4, 400, ServiceClass.Standard),
        new("b1", share * Budget / 4, 400, ServiceClass.Batch),
        new("b2", share * Budget / 4, 400, ServiceClass.Batch),
    ];

    private static List<PowerDecision> Run(PowerController controller, params double[] shares) => [.. shares.Select(s => controller.Decide(Budget, Domain(s)))];

    [Fact]
    public void Decide_RisingDraw_CapsBatchThenStandardThenAllInThatOrder()
    {
        var decisions = Run(new PowerController(new PowerControllerConfig()), 0.5, 0.82, 0.9, 0.96);
        Assert.Equal([PowerLevel.Uncapped, PowerLevel.BatchCapped, PowerLevel.StandardCapped, PowerLevel.AllCapped], decisions.Select(d => d.Level));
        Assert.Empty(decisions[0].Caps);
        Assert.Equal(["b1", "b2"], decisions[1].Caps.Keys.Order());
        Assert.Equal(["b1", "b2", "s"], decisions[2].Caps.Keys.Order());
        Assert.Equal(["b1", "b2", "i", "s"], decisions[3].Caps.Keys.Order());
        Assert.Equal(200, decisions[1].Caps["b1"], 9); // batch: 50% of 400 W, deep
        Assert.Equal(320, decisions[2].Caps["s"], 9); // standard: 80%, shallow
        Assert.Equal(320, decisions[3].Caps["i"], 9);
        Assert.Equal(200, decisions[3].Caps["b2"], 9);
    }

    [Fact]
    public void Decide_AboveTheBudget_BrakesOnceAndCapsEverythingHard()
    {
        var controller = new PowerController(new PowerControllerConfig());
        var decisions = Run(controller, 0.9, 1.02, 1.05, 0.97);
        Assert.Equal(PowerLevel.Brake, decisions[1].Level);
        Assert.True(decisions[1].BrakeStarted);
        Assert.False(decisions[2].BrakeStarted); // one brake event, held
        Assert.Equal(PowerLevel.Brake, decisions[3].Level); // 0.97 is not yet below 1 − margin
        Assert.Equal(1, controller.Brakes);
        Assert.All(decisions[1].Caps.Values, cap => Assert.Equal(200, cap, 9));
    }

    [Fact]
    public void Decide_FallingDraw_ReleasesOneLevelAtATimeAfterThePeriodsBelowTheMargin()
    {
        var controller = new PowerController(new PowerControllerConfig { ReleasePeriods = 3 });
        Run(controller, 0.96);
        // 0.92 is below AllThreshold (0.95) but not below it less the margin (0.90): held.
        Assert.All(Run(controller, 0.92, 0.92, 0.92, 0.92), d => Assert.Equal(PowerLevel.AllCapped, d.Level));
        // Below 0.90 for three periods: down one level, to standard capped (0.85 < 0.88 keeps it there).
        var falling = Run(controller, 0.85, 0.85, 0.85);
        Assert.Equal([PowerLevel.AllCapped, PowerLevel.AllCapped, PowerLevel.StandardCapped], falling.Select(d => d.Level));
        var lower = Run(controller, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5);
        Assert.Equal([PowerLevel.StandardCapped, PowerLevel.StandardCapped, PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.Uncapped, PowerLevel.Uncapped],
            lower.Select(d => d.Level));
    }

    [Fact]
    public void Decide_DrawFlickeringAtAThreshold_DoesNotFlap()
    {
        var controller = new PowerController(new PowerControllerConfig());
        var levels = Run(controller, 0.81, 0.79, 0.81, 0.79, 0.78, 0.81, 0.79).Select(d => d.Level).Distinct();
        Assert.Equal([PowerLevel.BatchCapped], levels);
    }

    [Fact]
    public void Decide_QuietPeriodsInterruptedByARise_StartCountingAgain()
    {
        var controller = new PowerController(new PowerControllerConfig { ReleasePeriods = 3 });
        Run(controller, 0.82);
        var levels = Run(controller, 0.5, 0.5, 0.78, 0.5, 0.5, 0.5).Select(d => d.Level).ToArray();
        Assert.Equal([PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.BatchCapped, PowerLevel.Uncapped], levels);
    }

    [Fact]
    public void Validate_ThresholdsOutOfOrder_NamesThem()
    {
        var errors = new PowerControllerConfig { BatchThreshold = 0.9, StandardThreshold = 0.8 }.Validate("Power");
        Assert.Single(errors);
        Assert.Contains("BatchThreshold", errors[0], StringComparison.Ordinal);
    }
}
