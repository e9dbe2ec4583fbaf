using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Tests.Dispatch;

namespace ControlPlane.Scheduling.Tests.Disaggregation;

/// <summary>The disaggregation decider, and the dispatch view that asks it, on hand-made loads.</summary>
public class DisaggregationDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);
    private static readonly DisaggregationDecider Decider = new(new DisaggregationConfig { MinPromptTokens = 512, MaxQueuedPromptTokens = 8192 });

    private static DispatchRequest Prompt(int tokens) => new(tokens, 100, ServiceClass.Standard, 0);

    /// <summary>Instances of 1,000 blocks of 16 tokens: a prompt of 2,000 tokens (125 blocks) fits.</summary>
    private static InstanceLoad Of(string id, InstanceRole role, int waitingBlocks = 0, InstanceHealth health = InstanceHealth.Ready, int total = 1000) =>
        Loads.Of(id, role: role, waitingBlocks: waitingBlocks, health: health, total: total);

    [Fact]
    public void LongPrompt_GoesToThePrefillInstanceWithTheLeastQueuedPromptWork()
    {
        IReadOnlyList<InstanceLoad> loads =
        [
            Of("p-busy", InstanceRole.Prefill, waitingBlocks: 100),
            Of("d", InstanceRole.Decode),
            Of("p-idle", InstanceRole.Prefill, waitingBlocks: 10),
            Of("m", InstanceRole.Mixed),
        ];
        var decision = Decider.Decide(Prompt(2000), 0, loads);
        Assert.Equal(new SplitDecision(2, SplitReason.Split), decision);
    }

    [Fact]
    public void ShortPrompt_OrOneMostlyCachedWhereItDecodes_RunsWhereItDecodes()
    {
        IReadOnlyList<InstanceLoad> loads = [Of("p", InstanceRole.Prefill), Of("d", InstanceRole.Decode)];
        Assert.Equal(SplitReason.ShortPrompt, Decider.Decide(Prompt(300), 0, loads).Reason);
        Assert.Equal(SplitReason.ShortPrompt, Decider.Decide(Prompt(2000), 1600, loads).Reason);
        Assert.True(Decider.Decide(Prompt(2000), 1000, loads).Splits);
    }

    [Fact]
    public void NoReadyPrefillInstance_OrAllPastTheirQueueLimit_RunsWhereItDecodes()
    {
        IReadOnlyList<InstanceLoad> none = [Of("p", InstanceRole.Prefill, health: InstanceHealth.Draining), Of("d", InstanceRole.Decode)];
        Assert.Equal(new SplitDecision(-1, SplitReason.NoPrefillInstance), Decider.Decide(Prompt(2000), 0, none));
        IReadOnlyList<InstanceLoad> busy = [Of("p", InstanceRole.Prefill, waitingBlocks: 600), Of("d", InstanceRole.Decode)];
        Assert.Equal(new SplitDecision(-1, SplitReason.PrefillBusy), Decider.Decide(Prompt(2000), 0, busy));
        // A prefill instance that refused lately is not asked again.
        IReadOnlyList<InstanceLoad> one = [Of("p", InstanceRole.Prefill), Of("d", InstanceRole.Decode)];
        Assert.False(Decider.Decide(Prompt(2000), 0, one, ["p"]).Splits);
        // Nor one too small for the prompt.
        Assert.False(Decider.Decide(Prompt(2000), 0, [Of("p", InstanceRole.Prefill, total: 50)]).Splits);
        Assert.Equal(SplitReason.Disabled, new DisaggregationDecider(new DisaggregationConfig { Enabled = false }).Decide(Prompt(9000), 0, one).Reason);
    }

    [Fact]
    public void View_SplitsALongPrompt_CountsItOnBothInstances_AndNeverSplitsAResumedRequest()
    {
        var view = new DispatchView(DispatchPolicies.Create(new DispatchConfig(), new Random(1)), decider: Decider);
        view.Refresh([Of("d", InstanceRole.Decode), Of("p", InstanceRole.Prefill)]);
        var outcome = view.Dispatch(Prompt(2000), Now);
        Assert.Equal(0, outcome.Index);
        Assert.Equal(1, outcome.PrefillIndex);
        Assert.Equal(125, view.Loads[1].WaitingKvBlocks);
        Assert.Equal(125, view.Loads[0].WaitingKvBlocks);
        Assert.Equal(-1, view.Dispatch(Prompt(2000) with { Resumed = true }, Now).PrefillIndex);
        Assert.Equal(-1, view.Dispatch(Prompt(100), Now).PrefillIndex);
    }

    [Fact]
    public void View_WithOnlyPrefillInstances_RefusesForWantOfADecodeInstance()
    {
        var view = new DispatchView(DispatchPolicies.Create(new DispatchConfig(), new Random(1)), decider: Decider);
        view.Refresh([Of("p", InstanceRole.Prefill)]);
        Assert.Equal(DispatchRefusal.NoInstances, view.Dispatch(Prompt(2000), Now).Refusal);
    }
}
