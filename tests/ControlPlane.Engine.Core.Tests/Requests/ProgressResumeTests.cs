using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Engine.Core.Tests.Requests;

public class ProgressResumeTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void Add_WithProgressOfALostEngine_ContinuesExactlyAsTheUninterruptedRun(float temperature)
    {
        // The gateway saw only the chunks the lost engine sent: their tokens and the next sequence number.
        var probe = new CoreHarness();
        probe.Engine.Add(CoreHarness.Request("r", 13, 60, temperature: temperature, samplingSeed: 5));
        probe.RunToEnd();
        var stop = probe.Text["r"].Substring(45, 3);
        var request = CoreHarness.Request("r", 13, 60, temperature: temperature, samplingSeed: 5, stop: [stop]);
        var whole = new CoreHarness();
        whole.Engine.Add(request);
        whole.RunToEnd();

        var lost = new CoreHarness();
        lost.Engine.Add(request);
        for (var i = 0; i < 25; i++)
            lost.Step();
        var progress = new RequestProgress { OutputTokenIds = lost.Tokens["r"], NextSequence = lost.Last["r"].Sequence + 1 };

        var next = new CoreHarness(blocks: 40);
        next.Engine.Add(request with { Progress = progress });
        next.RunToEnd();

        Assert.Equal(whole.Tokens["r"], lost.Tokens["r"].Concat(next.Tokens["r"]));
        Assert.Equal(whole.Text["r"], lost.Text["r"] + next.Text["r"]);
        Assert.Equal(whole.Last["r"].FinishReason, next.Last["r"].FinishReason);
        Assert.Equal(whole.Last["r"].Sequence, next.Last["r"].Sequence);
        Assert.Equal(whole.Last["r"].CompletionTokens, next.Last["r"].CompletionTokens);
        Assert.Equal(0, next.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Add_WithProgressAtMaxTokens_IsRejectedAndHoldsNoBlocks()
    {
        var harness = new CoreHarness();
        var request = CoreHarness.Request("r", 8, 4) with { Progress = new RequestProgress { OutputTokenIds = [1, 2, 3, 4], NextSequence = 4 } };

        var error = Assert.Throws<EngineRejectedException>(() => harness.Engine.Add(request));

        Assert.Contains("already produced 4 of its 4", error.Message);
        Assert.False(harness.Engine.HasWork);
        Assert.Equal(0, harness.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Add_WithProgressWhoseBlocksAreAllCached_RecomputesTheLastTokenAndContinues()
    {
        // The engine already ran the same request to the end, so every block of prompt plus progress is cached.
        var harness = new CoreHarness();
        var request = CoreHarness.Request("r", 16, 40);
        harness.Engine.Add(request);
        harness.RunToEnd();
        var whole = harness.Tokens["r"].ToArray();
        harness.Tokens.Clear();

        var progress = new RequestProgress { OutputTokenIds = whole[..16], NextSequence = 16 };
        harness.Engine.Add(request with { RequestId = "again", Progress = progress });
        harness.RunToEnd();

        Assert.Equal(whole[16..], harness.Tokens["again"]);
        Assert.Equal(40, harness.Last["again"].CompletionTokens);
    }
}
