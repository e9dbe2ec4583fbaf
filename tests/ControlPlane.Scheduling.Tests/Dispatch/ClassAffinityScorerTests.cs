using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Dispatch.Scorers;

namespace ControlPlane.Scheduling.Tests.Dispatch;

public class ClassAffinityScorerTests
{
    [Fact]
    public void Score_BatchAndInteractive_EachPreferInstancesWithoutTheOther()
    {
        var loads = new[]
        {
            Loads.Of("batch-only") with { BatchRequests = 5 },
            Loads.Of("interactive-only") with { PriorityRequests = 3 },
            Loads.Of("mixed") with { BatchRequests = 1, PriorityRequests = 1 },
            Loads.Of("idle"),
        };
        var scores = new double[4];
        new ClassAffinityScorer().Score(new DispatchRequest(100, 10, ServiceClass.Batch, 0), loads, scores);
        Assert.Equal([1, 0, 0, 1], scores);
        new ClassAffinityScorer().Score(new DispatchRequest(100, 10, ServiceClass.Interactive, 0), loads, scores);
        Assert.Equal([0, 1, 0, 1], scores);
    }

    [Fact]
    public void PowerAwarePreset_IsValidAndWeighsKvUsageAboveAffinity()
    {
        Assert.Empty(DispatchPolicies.Validate(new DispatchConfig { Policy = "power-aware" }, "Dispatch"));
        var preset = DispatchPolicies.Presets["power-aware"];
        Assert.Equal([KvUsageScorer.PluginName, ClassAffinityScorer.PluginName], preset.Scorers.Select(s => s.Name));
        Assert.True(preset.Scorers[0].Weight > preset.Scorers[1].Weight);
    }
}
