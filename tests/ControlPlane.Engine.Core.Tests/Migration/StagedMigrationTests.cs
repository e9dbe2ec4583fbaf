using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core.Tests.Migration;

/// <summary>The engine's half of live migration: staged parts while decoding goes on, a suspend, the last part, release or resume.</summary>
public class StagedMigrationTests
{
    [Fact]
    public void StagedCopyWhileDecoding_ThenStop_ContinuesExactlyOnTheDestination()
    {
        var request = CoreHarness.Request("m", 13, 60, temperature: 1, samplingSeed: 5);
        var whole = CoreHarness.RunAlone(request);

        var source = new CoreHarness();
        var target = new CoreHarness();
        source.Engine.Add(request);
        for (var i = 0; i < 10; i++)
            source.Step();
        var sent = 0;
        var stages = 0;
        // Stages of at most 2 blocks, one between every two steps: decoding goes on, new blocks fill meanwhile.
        while (source.Engine.Probe("m") is { FullBlocks: var full } && full - sent > 1)
        {
            var part = CoreHarness.RoundTrip(source.Engine.ExportStable("m", sent, 2)!);
            Assert.Null(part.Header.Resume);
            target.Engine.ImportKv(request, part);
            Assert.False(target.Engine.HasWork);
            sent += part.Header.BlockCount;
            stages++;
            source.Step();
        }
        Assert.True(stages >= 3, $"expected several stages, got {stages}");
        var before = source.Tokens["m"].Count;
        Assert.True(source.Engine.Suspend("m"));
        Assert.Empty(source.Step().Outputs); // suspended: no token while its last blocks move
        Assert.Equal(before, source.Tokens["m"].Count);
        var last = CoreHarness.RoundTrip(source.Engine.ExportKv("m", new KvBlockRange(sent, -1)));
        Assert.NotNull(last.Header.Resume);
        target.Engine.ImportKv(request, last);
        Assert.True(source.Engine.Abort("m"));
        Assert.Equal(0, source.Engine.Snapshot().UsedKvBlocks);
        target.RunToEnd();

        Assert.Equal(whole.Tokens["m"], source.Tokens["m"].Concat(target.Tokens["m"]));
        Assert.Equal(whole.Text["m"], source.Text["m"] + target.Text["m"]);
        Assert.Equal(whole.Last["m"].Sequence, target.Last["m"].Sequence);
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void ExportStable_CarriesOnlyFullBlocksAndNeverResumeState()
    {
        var source = new CoreHarness(blockSize: 4);
        source.Engine.Add(CoreHarness.Request("m", 10, 20));
        source.Step(); // 10 prompt tokens computed: 2 full blocks, 1 partial
        var probe = source.Engine.Probe("m")!.Value;
        Assert.Equal(2, probe.FullBlocks);
        Assert.Equal(3, probe.HeldBlocks);
        Assert.True(probe.Running);
        var part = source.Engine.ExportStable("m", 0, 100)!;
        Assert.Equal(2, part.Header.BlockCount);
        Assert.Equal(8, part.Header.TokenIds.Count);
        Assert.Null(part.Header.Resume);
        Assert.Null(source.Engine.ExportStable("m", 2, 100));
        Assert.Null(source.Engine.Probe("other"));
    }

    [Fact]
    public void MigrationCalledOff_UnsuspendedRequestFinishesOnTheSourceAsIfNothingHappened()
    {
        var request = CoreHarness.Request("m", 9, 40, temperature: 1, samplingSeed: 9);
        var whole = CoreHarness.RunAlone(request);

        var source = new CoreHarness();
        var target = new CoreHarness();
        source.Engine.Add(request);
        for (var i = 0; i < 12; i++)
            source.Step();
        target.Engine.ImportKv(request, source.Engine.ExportStable("m", 0, 64)!);
        Assert.True(source.Engine.Suspend("m"));
        Assert.False(source.Engine.Suspend("m"));
        Assert.Equal(1, source.Engine.SuspendedRequests);
        Assert.Equal(1, source.Engine.Snapshot().RunningRequests); // still holds its blocks
        source.Step();
        // The destination refuses, say: it drops what it imported; the source goes on.
        Assert.True(target.Engine.Abort("m"));
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
        Assert.True(source.Engine.Unsuspend("m"));
        source.RunToEnd();
        Assert.Equal(whole.Tokens["m"], source.Tokens["m"]);
        Assert.Equal(0, source.Engine.Snapshot().UsedKvBlocks);
        Assert.Equal(0, source.Engine.SuspendedRequests);
    }

    [Fact]
    public void AbortWhileSuspended_FreesEverything()
    {
        var source = new CoreHarness();
        source.Engine.Add(CoreHarness.Request("m", 9, 40));
        for (var i = 0; i < 3; i++)
            source.Step();
        Assert.True(source.Engine.Suspend("m"));
        Assert.True(source.Engine.Abort("m"));
        Assert.Equal(0, source.Engine.Snapshot().UsedKvBlocks);
        Assert.Equal(0, source.Engine.SuspendedRequests);
        Assert.False(source.Engine.HasWork);
        Assert.False(source.Engine.Unsuspend("m"));
    }

    [Fact]
    public void Preemption_IsVisibleInTheProbe_SoAStagedCopyIsKnownStale()
    {
        // 8 blocks of 4 tokens: two requests that grow past them preempt the newer one.
        var engine = new CoreHarness(blocks: 8, blockSize: 4);
        engine.Engine.Add(CoreHarness.Request("a", 12, 20));
        engine.Engine.Add(CoreHarness.Request("b", 12, 20, seed: 2));
        engine.Step();
        var before = engine.Engine.Probe("b")!.Value.Preemptions;
        for (var i = 0; i < 10 && engine.Engine.Probe("b")!.Value.Preemptions == before; i++)
            engine.Step();
        var after = engine.Engine.Probe("b")!.Value;
        Assert.Equal(before + 1, after.Preemptions);
        Assert.False(after.Running);
        Assert.False(engine.Engine.Suspend("b")); // waiting, not running: nothing to suspend
    }
}
