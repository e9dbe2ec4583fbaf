using ControlPlane.Scheduling.Dispatch;

namespace ControlPlane.Scheduling.Tests.Dispatch;

public class DispatchPoliciesTests
{
    [Fact]
    public void Validate_UnknownPolicy_NamesKeyAndKnownPolicies()
    {
        var errors = DispatchPolicies.Validate(new DispatchConfig { Policy = "fastest" });
        var error = Assert.Single(errors);
        Assert.Contains("ControlPlane:Dispatch:Policy 'fastest'", error);
        Assert.Contains("least-kv-usage", error);
    }

    [Fact]
    public void Validate_CustomProfileWithBadNames_ReportsEachByIndex()
    {
        var config = new DispatchConfig
        {
            QueueLimit = 0,
            Profile = new DispatchProfileConfig
            {
                Filters = ["ready", "healthy"],
                Scorers = [new ScorerConfig { Name = "least-request", Weight = -1 }, new ScorerConfig { Name = "prefix" }],
                Picker = "best",
            },
        };
        var errors = DispatchPolicies.Validate(config, "X");
        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("X:QueueLimit", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("X:Profile:Filters:1 'healthy'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("X:Profile:Scorers:0:Weight", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("X:Profile:Scorers:1:Name 'prefix'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("X:Profile:Picker 'best'", StringComparison.Ordinal));
    }

    [Fact]
    public void Create_EveryPreset_BuildsProfileNamedAfterIt()
    {
        foreach (var name in DispatchPolicies.Presets.Keys)
            Assert.Equal(name, DispatchPolicies.Create(new DispatchConfig { Policy = name }, new Random(0)).Name);
    }

    [Fact]
    public void Create_InvalidConfig_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => DispatchPolicies.Create(new DispatchConfig { Policy = "nope" }, new Random(0)));
        Assert.Contains("'nope'", ex.Message);
    }
}
