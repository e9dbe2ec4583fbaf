using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;

namespace ControlPlane.Scheduling.Tests.Dispatch;

public class DispatchProfileTests
{
    private static readonly DispatchRequest Small = new(PromptTokens: 32, MaxTokens: 16, ServiceClass.Standard, 0);

    private static DispatchProfile Policy(string name, int queueLimit = 256, int seed = 1) =>
        DispatchPolicies.Create(new DispatchConfig { Policy = name, QueueLimit = queueLimit }, new Random(seed));

    private static string Pick(DispatchProfile profile, DispatchRequest request, IReadOnlyList<InstanceLoad> loads, IReadOnlyCollection<string>? exclude = null)
    {
        var outcome = profile.Pick(request, loads, exclude);
        Assert.True(outcome.Succeeded, $"expected a choice, got refusal {outcome.Refusal}");
        return loads[outcome.Index].InstanceId;
    }

    [Fact]
    public void RoundRobin_FourPicks_VisitsEachInstanceInTurn()
    {
        var profile = Policy("round-robin");
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a"), Loads.Of("b", running: 50), Loads.Of("c")];
        var picks = Enumerable.Range(0, 4).Select(_ => Pick(profile, Small, loads)).ToArray();
        Assert.Equal(["a", "b", "c", "a"], picks);
    }

    [Fact]
    public void LeastRequest_UnevenLoads_PicksFewestRunningPlusWaiting()
    {
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", running: 5, waiting: 1), Loads.Of("b", running: 2, waiting: 2), Loads.Of("c", running: 3, waiting: 3)];
        Assert.Equal("b", Pick(Policy("least-request"), Small, loads));
    }

    [Fact]
    public void LeastKvUsage_QueuedDemandCounts_PicksLowestVirtualUsage()
    {
        // "a" uses fewer blocks but its queue will need 40 more: its virtual usage (10+40)/100 beats "b"'s 30/100 only in the naive view.
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", used: 10, waitingBlocks: 40), Loads.Of("b", used: 30)];
        Assert.Equal("b", Pick(Policy("least-kv-usage"), Small, loads));
    }

    [Fact]
    public void MaxScore_EqualScores_SpreadsOverAllTiedInstances()
    {
        var profile = Policy("least-request", seed: 7);
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a"), Loads.Of("b"), Loads.Of("c"), Loads.Of("d")];
        var counts = Enumerable.Range(0, 4000).Select(_ => Pick(profile, Small, loads)).GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 850, 1150));
    }

    [Fact]
    public void Pick_DrainingAndPrefillInstances_AreNeverChosen()
    {
        // A request is dispatched to where it decodes; a prefill instance gets its prompt only from the disaggregation decider.
        IReadOnlyList<InstanceLoad> loads =
        [
            Loads.Of("draining", health: InstanceHealth.Draining),
            Loads.Of("prefill", role: InstanceRole.Prefill),
            Loads.Of("busy-but-ready", running: 90, used: 90),
        ];
        foreach (var policy in DispatchPolicies.Presets.Keys)
            Assert.Equal("busy-but-ready", Pick(Policy(policy), Small, loads));
    }

    [Fact]
    public void Pick_AllQueuesFull_RefusesAsOverloaded()
    {
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", waiting: 4), Loads.Of("b", waiting: 5)];
        var outcome = Policy("least-request", queueLimit: 4).Pick(Small, loads);
        Assert.Equal(DispatchRefusal.Overloaded, outcome.Refusal);
    }

    [Fact]
    public void Pick_BatchClass_IsShedAtHalfTheQueueLimit()
    {
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", waiting: 2)];
        var profile = Policy("least-request", queueLimit: 4);
        Assert.Equal(DispatchRefusal.Overloaded, profile.Pick(Small with { ServiceClass = ServiceClass.Batch }, loads).Refusal);
        Assert.True(profile.Pick(Small with { ServiceClass = ServiceClass.Interactive }, loads).Succeeded);
    }

    [Fact]
    public void Pick_PromptLargerThanEveryInstance_RefusesAsTooLarge()
    {
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", total: 10)];
        var outcome = Policy("least-kv-usage").Pick(Small with { PromptTokens = 16 * 20 }, loads);
        Assert.Equal(DispatchRefusal.TooLarge, outcome.Refusal);
    }

    [Fact]
    public void Pick_NoInstancesOrAllExcluded_RefusesAsNoInstances()
    {
        var profile = Policy("least-kv-usage");
        Assert.Equal(DispatchRefusal.NoInstances, profile.Pick(Small, []).Refusal);
        Assert.Equal(DispatchRefusal.NoInstances, profile.Pick(Small, [Loads.Of("a")], ["a"]).Refusal);
    }

    [Fact]
    public void Pick_ExcludedInstance_IsSkippedAndIndexPointsIntoOriginalList()
    {
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a"), Loads.Of("b", running: 10), Loads.Of("c", running: 20)];
        Assert.Equal("b", Pick(Policy("least-request"), Small, loads, ["a"]));
    }

    [Fact]
    public void CustomProfile_WeightedScorers_CombineAsConfigured()
    {
        var config = new DispatchConfig
        {
            Profile = new DispatchProfileConfig
            {
                Filters = ["ready"],
                Scorers = [new ScorerConfig { Name = "least-kv-usage", Weight = 10 }, new ScorerConfig { Name = "least-request", Weight = 1 }],
                Picker = "max-score",
            },
        };
        var profile = DispatchPolicies.Create(config, new Random(1));
        // "a" holds more requests but far fewer blocks; KV weight 10 decides.
        IReadOnlyList<InstanceLoad> loads = [Loads.Of("a", running: 8, used: 10), Loads.Of("b", running: 1, used: 60)];
        Assert.Equal("a", Pick(profile, Small, loads));
        Assert.Equal("custom", profile.Name);
    }
}
