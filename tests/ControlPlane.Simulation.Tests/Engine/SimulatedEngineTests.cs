using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Simulation.Tests.Engine;

public class SimulatedEngineTests
{
    [Fact]
    public void Step_SingleRequest_ProducesExactlyMaxTokensThenFinishesByLength()
    {
        var driver = new EngineDriver();
        driver.Engine.Add(EngineDriver.Request("r", promptTokens: 40, maxTokens: 12));
        driver.RunToEnd();
        Assert.Equal(12, driver.Tokens["r"].Count);
        Assert.Equal(FinishReason.Length, driver.Finish["r"]);
        Assert.Equal(12, driver.Steps); // one prefill step that samples the first token, then 11 decode steps
        Assert.Equal(0, driver.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Step_LongPrompt_IsPrefilledInChunksOfTheTokenBudget()
    {
        var driver = new EngineDriver();
        driver.Engine.Add(EngineDriver.Request("long", promptTokens: 5000, maxTokens: 2));
        var first = driver.Step();
        Assert.Equal(EngineDriver.Profile.MaxBatchedTokens, first.PrefillTokens);
        Assert.Empty(first.Outputs);
        driver.RunToEnd();
        Assert.Equal(3, driver.FirstTokenStep["long"]); // 2048 + 2048 + 904: the third step yields the first token
    }

    [Fact]
    public void Step_DecodeBatch_MixesDecodeTokensWithPrefillChunk()
    {
        var driver = new EngineDriver();
        driver.Engine.Add(EngineDriver.Request("a", 10, 50));
        driver.Step();
        driver.Engine.Add(EngineDriver.Request("b", 100, 5));
        var mixed = driver.Step();
        Assert.Equal(1, mixed.DecodeSequences);
        Assert.Equal(100, mixed.PrefillTokens);
        Assert.True(mixed.Duration > EngineDriver.Profile.StepTime(0, 1, 11), "a step with a prefill chunk must take longer than a pure decode step");
    }

    [Fact]
    public void Greedy_AloneOrBatched_GivesTheSameTokens()
    {
        var alone = new EngineDriver();
        alone.Engine.Add(EngineDriver.Request("x", 30, 20));
        alone.RunToEnd();

        var batched = new EngineDriver();
        for (var i = 0; i < 8; i++)
            batched.Engine.Add(EngineDriver.Request($"other-{i}", 20 + i, 25));
        batched.Engine.Add(EngineDriver.Request("x", 30, 20));
        batched.RunToEnd();
        Assert.Equal(alone.Tokens["x"], batched.Tokens["x"]);
    }

    [Fact]
    public void Sampling_SameSeed_ReproducesOutputAndOtherSeedDiffers()
    {
        List<int> Run(long seed)
        {
            var driver = new EngineDriver();
            driver.Engine.Add(EngineDriver.Request("s", 10, 30, temperature: 1, seed: seed));
            driver.RunToEnd();
            return driver.Tokens["s"];
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Fact]
    public void StopString_SeenInOutput_EndsRequestAndIsNotEmitted()
    {
        var free = new EngineDriver();
        free.Engine.Add(EngineDriver.Request("s", 10, 40));
        free.RunToEnd();
        var text = free.Text["s"];
        var stop = text.Substring(text.Length / 2, 4);
        var expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];

        var stopped = new EngineDriver();
        stopped.Engine.Add(EngineDriver.Request("s", 10, 40, stop: [stop]));
        stopped.RunToEnd();
        Assert.Equal(FinishReason.Stop, stopped.Finish["s"]);
        Assert.Equal(expected, stopped.Text["s"]);
    }

    [Fact]
    public void Preemption_WhenBlocksRunOut_RecomputesAndKeepsTokensIdentical()
    {
        var roomy = new EngineDriver();
        var tight = new EngineDriver(blocks: 24);
        for (var i = 0; i < 6; i++)
        {
            roomy.Engine.Add(EngineDriver.Request($"r{i}", 40, 60));
            tight.Engine.Add(EngineDriver.Request($"r{i}", 40, 60));
        }
        roomy.RunToEnd();
        tight.RunToEnd();
        Assert.True(tight.Engine.Snapshot().PreemptionCount > 0, "24 blocks for six 100-token requests must force preemption");
        Assert.Equal(0, roomy.Engine.Snapshot().PreemptionCount);
        for (var i = 0; i < 6; i++)
            Assert.Equal(roomy.Tokens[$"r{i}"], tight.Tokens[$"r{i}"]);
        Assert.Equal(0, tight.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Abort_RunningRequest_FreesAllItsBlocksAtOnce()
    {
        var driver = new EngineDriver();
        driver.Engine.Add(EngineDriver.Request("a", 300, 100));
        driver.Engine.Add(EngineDriver.Request("b", 10, 100));
        driver.Step();
        driver.Step();
        var before = driver.Engine.Snapshot().UsedKvBlocks;
        Assert.True(driver.Engine.Abort("a"));
        Assert.False(driver.Engine.Abort("a"));
        Assert.Equal(before - 19, driver.Engine.Snapshot().UsedKvBlocks); // 302 tokens in 16-token blocks
        Assert.Equal(1, driver.Engine.Snapshot().RunningRequests);
    }

    [Fact]
    public void Add_PromptPlusMaxTokensBeyondContext_IsRejected()
    {
        var driver = new EngineDriver();
        var ex = Assert.Throws<EngineRejectedException>(() => driver.Engine.Add(EngineDriver.Request("big", 8000, 500)));
        Assert.Contains("exceed the context of 8192", ex.Message);
        Assert.False(driver.Engine.HasWork);
    }

    [Fact]
    public void Snapshot_QueuedRequests_CountWaitingDemand()
    {
        var driver = new EngineDriver();
        driver.Engine.Add(EngineDriver.Request("q1", 160, 4));
        driver.Engine.Add(EngineDriver.Request("q2", 32, 4));
        var snapshot = driver.Engine.Snapshot();
        Assert.Equal(2, snapshot.WaitingRequests);
        Assert.Equal(11 + 3, snapshot.WaitingKvBlocks);
    }
}
