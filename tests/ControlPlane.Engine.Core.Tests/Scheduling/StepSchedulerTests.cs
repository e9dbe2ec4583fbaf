using ControlPlane.Requests;

namespace ControlPlane.Engine.Core.Tests.Scheduling;

public class StepSchedulerTests
{
    [Fact]
    public void Schedule_LongPrompt_IsPrefilledInChunksOfTheTokenBudget()
    {
        var h = new CoreHarness(maxBatchedTokens: 32);
        h.Engine.Add(CoreHarness.Request("long", 70, 2));
        var first = h.Step();
        Assert.Equal(32, first.PrefillTokens);
        Assert.Empty(first.Outputs);
        Assert.Equal(32, h.Step().PrefillTokens);
        var third = h.Step();
        Assert.Equal(6, third.PrefillTokens);
        Assert.All(h.Runner.Plans, p => Assert.Single(p.Chunks));
        Assert.Single(third.Outputs); // the chunk that ends the prompt samples the first token
    }

    [Fact]
    public void Schedule_RunningFirst_ThenWaitingByClassPriorityAndArrival()
    {
        var h = new CoreHarness(maxBatchedTokens: 1000);
        h.Engine.Add(CoreHarness.Request("running", 4, 10));
        h.Step();
        h.Engine.Add(CoreHarness.Request("batch", 4, 2, serviceClass: ServiceClass.Batch));
        h.Engine.Add(CoreHarness.Request("standard-low", 4, 2));
        h.Engine.Add(CoreHarness.Request("standard-high", 4, 2, priority: 5));
        h.Engine.Add(CoreHarness.Request("interactive", 4, 2, serviceClass: ServiceClass.Interactive));
        h.Step();
        Assert.Equal(["running", "interactive", "standard-high", "standard-low", "batch"], h.Runner.Plans[^1].Chunks.Select(c => c.Request.Id));
    }

    [Fact]
    public void Schedule_DecodesAndPrefillChunk_ShareOneStep()
    {
        var h = new CoreHarness(maxBatchedTokens: 100);
        h.Engine.Add(CoreHarness.Request("a", 10, 50));
        h.Step();
        h.Engine.Add(CoreHarness.Request("b", 40, 5, seed: 1));
        var mixed = h.Step();
        Assert.Equal(1, mixed.DecodeSequences);
        Assert.Equal(40, mixed.PrefillTokens);
    }

    [Fact]
    public void Schedule_RunningLimit_KeepsTheRestWaiting()
    {
        var h = new CoreHarness(maxRunning: 2);
        for (var i = 0; i < 4; i++)
            h.Engine.Add(CoreHarness.Request($"r{i}", 4, 3, seed: i));
        h.Step();
        var snapshot = h.Engine.Snapshot();
        Assert.Equal(2, snapshot.RunningRequests);
        Assert.Equal(2, snapshot.WaitingRequests);
        Assert.Equal(4, snapshot.WaitingKvBlocks); // two 4-token prompts need a block each, plus one for the first token
    }

    [Fact]
    public void Preemption_WhenBlocksRunOut_NewestRecomputesAndTokensAreIdentical()
    {
        var roomy = new CoreHarness(blocks: 256);
        var tight = new CoreHarness(blocks: 16);
        foreach (var h in new[] { roomy, tight })
        {
            for (var i = 0; i < 4; i++)
                h.Engine.Add(CoreHarness.Request($"p{i}", 10 + i, 24, seed: 20 + i));
            h.RunToEnd();
        }
        Assert.True(tight.Engine.Snapshot().PreemptionCount > 0, "16 blocks of 4 tokens for four ~36-token requests must preempt");
        Assert.Equal(0, roomy.Engine.Snapshot().PreemptionCount);
        for (var i = 0; i < 4; i++)
            Assert.Equal(roomy.Tokens[$"p{i}"], tight.Tokens[$"p{i}"]);
        Assert.Equal(0, tight.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void SharedPrefix_SecondRequestTakesCachedBlocks_AndOutputIsUnchanged()
    {
        var prefix = CoreHarness.Prompt(16, seed: 4);
        RequestSpec Spec(string id, int[] tail) => CoreHarness.Request(id, 0, 8) with { PromptTokenIds = [.. prefix, .. tail] };
        var fresh = new CoreHarness();
        fresh.Engine.Add(Spec("b", [9, 9]));
        fresh.RunToEnd();

        var h = new CoreHarness();
        h.Engine.Add(Spec("a", [5, 6, 7]));
        h.RunToEnd();
        h.Engine.Add(Spec("b", [9, 9]));
        var first = h.Step();
        Assert.Equal(2, first.PrefillTokens); // 16 prompt tokens came from the cache
        h.RunToEnd();
        Assert.Equal(fresh.Tokens["b"], h.Tokens["b"]);
        Assert.Equal(16, h.Last["b"].CachedPromptTokens);
        Assert.Equal(0, h.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void SharedPrefix_WholePromptCached_StillComputesItsLastToken()
    {
        var h = new CoreHarness();
        h.Engine.Add(CoreHarness.Request("a", 16, 2, seed: 9));
        h.RunToEnd();
        h.Engine.Add(CoreHarness.Request("b", 16, 2, seed: 9));
        var first = h.Step();
        Assert.Equal(4, first.PrefillTokens); // the last block is recomputed: its last token's logits give the first token
        Assert.Equal(12, h.Runner.Plans[^1].Chunks[0].Start); // three cached blocks, computed from position 12 on
        h.RunToEnd();
        Assert.Equal(h.Tokens["a"], h.Tokens["b"]);
    }

    [Fact]
    public void Abort_RunningAndWaiting_FreesEveryBlock()
    {
        var h = new CoreHarness();
        h.Engine.Add(CoreHarness.Request("a", 30, 50));
        h.Engine.Add(CoreHarness.Request("b", 30, 50, seed: 1));
        h.Step();
        Assert.True(h.Engine.Snapshot().UsedKvBlocks > 0);
        Assert.True(h.Engine.Abort("a"));
        Assert.True(h.Engine.Abort("b"));
        Assert.False(h.Engine.Abort("a"));
        Assert.Equal(0, h.Engine.Snapshot().UsedKvBlocks);
        Assert.False(h.Engine.HasWork);
    }

    [Fact]
    public void Add_TooLongForTheContext_IsRejectedWithTheNumbers()
    {
        var h = new CoreHarness();
        var ex = Assert.Throws<ControlPlane.Engines.EngineRejectedException>(() => h.Engine.Add(CoreHarness.Request("big", 4000, 200)));
        Assert.Contains("exceed the context of 4096", ex.Message, StringComparison.Ordinal);
        Assert.False(h.Engine.HasWork);
    }
}
