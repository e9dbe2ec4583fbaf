using ControlPlane.Instances;
using ControlPlane.KvCache;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Dispatch.Scorers;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Scheduling.Tests.Dispatch;

namespace ControlPlane.Scheduling.Tests.KvCache;

public class PrefixAffinityScorerTests
{
    [Fact]
    public void Score_HandMadeHoldings_IsTheCachedShareWithHostBlocksDiscounted()
    {
        var index = new KvPrefixIndex();
        index.Apply("gpu", [.. new ulong[] { 1, 2, 3, 4 }.Select(h => new KvEvent(KvEventKind.Stored, h, 0))]);
        index.Apply("host", [.. new ulong[] { 1, 2, 3, 4 }.Select(h => new KvEvent(KvEventKind.Stored, h, 0, KvTier.Host))]);
        index.Apply("half", [new KvEvent(KvEventKind.Stored, 1, 0), new KvEvent(KvEventKind.Stored, 2, 0)]);
        var request = new DispatchRequest(128, 10, ServiceClass.Standard, 0) { Prefix = index.Match([1, 2, 3, 4, 5, 6, 7, 8]) };
        InstanceLoad[] candidates = [Loads.Of("gpu"), Loads.Of("host"), Loads.Of("half"), Loads.Of("none")];
        var scores = new double[4];

        new PrefixAffinityScorer().Score(request, candidates, scores);

        Assert.Equal([4 / 8.0, 4 * PrefixAffinityScorer.HostBlockValue / 8, 2 / 8.0, 0], scores);
    }

    [Fact]
    public void Score_NoPrefixKnown_ScoresZeroEverywhere()
    {
        var scores = new[] { 9.0, 9.0 };
        new PrefixAffinityScorer().Score(new DispatchRequest(100, 1, ServiceClass.Standard, 0), [Loads.Of("a"), Loads.Of("b")], scores);
        Assert.Equal([0.0, 0.0], scores);
    }

    [Fact]
    public void Dispatch_PrefixAwarePreset_WeighsTheCachedShareAgainstLoad()
    {
        var index = new KvPrefixIndex();
        ulong[] hashes = [.. Enumerable.Range(1, 8).Select(i => (ulong)i)];
        index.Apply("b", hashes.Select(h => new KvEvent(KvEventKind.Stored, h, 0)));
        var view = new DispatchView(DispatchPolicies.Create(new DispatchConfig { Policy = "prefix-aware" }, new Random(1))) { Index = index };
        view.Refresh([Loads.Of("a", used: 10), Loads.Of("b", used: 30)]);
        var request = new DispatchRequest(128, 10, ServiceClass.Standard, 0) { BlockHashes = hashes };

        var outcome = view.Dispatch(request, DateTimeOffset.UnixEpoch);
        Assert.Equal(1, outcome.Index); // b: the whole prefix outweighs 20% more usage
        Assert.Equal(8, outcome.Prefix!.For("b").Blocks);

        // b now holds a quarter of the prompt: 0.25 does not make up for 50% more usage.
        view.Refresh([Loads.Of("a", used: 10), Loads.Of("b", used: 60)]);
        index.Apply("b", hashes.Skip(2).Select(h => new KvEvent(KvEventKind.Removed, h, 0)));
        Assert.Equal(0, view.Dispatch(request, DateTimeOffset.UnixEpoch).Index);
        Assert.Equal(2, view.Dispatch(request, DateTimeOffset.UnixEpoch).Prefix!.For("b").Blocks);
    }

    [Fact]
    public void Dispatch_PromptCachedWhereItDecodes_IsNotSplitOntoAPrefillInstance()
    {
        var index = new KvPrefixIndex();
        ulong[] hashes = [.. Enumerable.Range(1, 64).Select(i => (ulong)i)];
        index.Apply("d", hashes.Select(h => new KvEvent(KvEventKind.Stored, h, 0)));
        var decider = new ControlPlane.Scheduling.Disaggregation.DisaggregationDecider(new() { MinPromptTokens = 512 });
        var view = new DispatchView(DispatchPolicies.Create(new DispatchConfig { Policy = "prefix-aware" }, new Random(1)), decider: decider) { Index = index };
        view.Refresh([Loads.Of("d", total: 1000, role: InstanceRole.Decode), Loads.Of("p", total: 1000, role: InstanceRole.Prefill)]);
        var cachedPrompt = new DispatchRequest(64 * 16 + 8, 10, ServiceClass.Standard, 0) { BlockHashes = hashes };
        var freshPrompt = new DispatchRequest(64 * 16 + 8, 10, ServiceClass.Standard, 0) { BlockHashes = hashes.Select(h => h + 1000).ToArray() };

        Assert.Equal(-1, view.Dispatch(cachedPrompt, DateTimeOffset.UnixEpoch).PrefillIndex); // 8 uncached tokens: computed where it decodes
        Assert.Equal(1, view.Dispatch(freshPrompt, DateTimeOffset.UnixEpoch).PrefillIndex);
    }
}
