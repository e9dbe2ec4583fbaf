namespace ControlPlane.Engine.Core.Tests.Output;

/// <summary>Each step's GPU energy shared between its requests by the tokens each computed (issue 15: energy per request and token).</summary>
public class EnergyAttributionTests
{
    [Fact]
    public void Requests_ShareEachStepsEnergy_ByTheirTokens_AndTheSharesAddUpToTheDraw()
    {
        var core = new CoreHarness(blocks: 256, maxBatchedTokens: 64);
        core.Engine.DrawWatts = () => 300;
        core.Engine.Add(CoreHarness.Request("long", 60, 10, seed: 1));
        core.Engine.Add(CoreHarness.Request("short", 8, 10, seed: 2));
        // The first step computes 60 prompt tokens of one and 4 of the other (64 a step): its energy splits 60 : 4.
        var total = core.Step().Duration.TotalSeconds * 300;
        Assert.True(core.Engine.Scheduler.TryGet("long", out var longRequest));
        Assert.True(core.Engine.Scheduler.TryGet("short", out var shortRequest));
        Assert.Equal(total * 60 / 64, longRequest.EnergyJoules, 9);
        Assert.Equal(total * 4 / 64, shortRequest.EnergyJoules, 9);
        for (var i = 0; core.Engine.HasWork && i < 1000; i++)
            total += core.Step().Duration.TotalSeconds * 300;
        // Every step's energy went to some request, and the finished requests report theirs.
        var energies = core.Last.Values.Select(o => o.EnergyJoules!.Value).ToArray();
        Assert.Equal(total, energies.Sum(), 6);
    }

    [Fact]
    public void WithoutADraw_NoEnergyIsReported()
    {
        var core = new CoreHarness();
        core.Engine.Add(CoreHarness.Request("r", 8, 4));
        core.RunToEnd();
        Assert.Null(core.Last["r"].EnergyJoules);
    }
}
