using ControlPlane.Engines;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core.Tests.Transfer;

public class ExportImportTests
{
    private static KvPart RoundTrip(KvPart part) => CoreHarness.RoundTrip(part);

    [Fact]
    public void ExportImport_MidDecodeWithStopStringsAndSeededSampling_ContinuesExactly()
    {
        // A seeded temperature sampler and a stop string the uninterrupted run meets late: the text, the
        // finish and every token must come out the same when the request moves between engines mid-decode.
        var probe = new CoreHarness();
        probe.Engine.Add(CoreHarness.Request("m", 13, 60, temperature: 1, samplingSeed: 77));
        probe.RunToEnd();
        var free = probe.Text["m"];
        var stop = free.Substring(40, 3);
        var request = CoreHarness.Request("m", 13, 60, temperature: 1, samplingSeed: 77, stop: [stop]);

        var whole = new CoreHarness();
        whole.Engine.Add(request);
        whole.RunToEnd();
        Assert.Equal(ControlPlane.Requests.FinishReason.Stop, whole.Last["m"].FinishReason);

        var source = new CoreHarness();
        source.Engine.Add(request);
        for (var i = 0; i < 20; i++)
            source.Step();
        var first = RoundTrip(source.Engine.ExportKv("m", new KvBlockRange(0, 3)));
        Assert.Null(first.Header.Resume);
        Assert.Equal(12, first.Header.TokenIds.Count); // only the tokens its blocks hold
        source.Step(); // decoding goes on while the first part travels
        var rest = RoundTrip(source.Engine.ExportKv("m", new KvBlockRange(3, -1)));
        Assert.NotNull(rest.Header.Resume);
        Assert.True(source.Engine.Abort("m"));
        Assert.Equal(0, source.Engine.Snapshot().UsedKvBlocks);

        var target = new CoreHarness(model: "m");
        target.Engine.ImportKv(request, first);
        Assert.False(target.Engine.HasWork);
        target.Engine.ImportKv(request, rest);
        target.RunToEnd();

        Assert.Equal(whole.Tokens["m"], source.Tokens["m"].Concat(target.Tokens["m"]));
        Assert.Equal(whole.Text["m"], source.Text["m"] + target.Text["m"]);
        Assert.Equal(whole.Last["m"].FinishReason, target.Last["m"].FinishReason);
        Assert.Equal(whole.Last["m"].Sequence, target.Last["m"].Sequence); // output numbers go on from the source's
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    /// <summary>A request decoding on a source engine: its 40-token prompt computed, one token out.</summary>
    private static (CoreHarness Source, ControlPlane.Requests.RequestSpec Request) Decoding(int prompt = 40)
    {
        var source = new CoreHarness();
        var request = CoreHarness.Request("m", prompt, 10);
        source.Engine.Add(request);
        source.Step();
        source.Step();
        return (source, request);
    }

    [Fact]
    public void Import_NoRoom_IsRefusedAndLeaksNothing()
    {
        var (source, request) = Decoding();
        var part = source.Engine.ExportKv("m", KvBlockRange.All);

        var small = new CoreHarness(blocks: 6);
        var ex = Assert.Throws<EngineRejectedException>(() => small.Engine.ImportKv(request, part));
        Assert.Contains("no room", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, small.Engine.Snapshot().UsedKvBlocks);
        Assert.False(small.Engine.HasWork);
    }

    [Fact]
    public void Import_PartsOutOfOrder_IsRefusedAndLeaksNothing()
    {
        var (source, request) = Decoding();
        var target = new CoreHarness();
        target.Engine.ImportKv(request, source.Engine.ExportKv("m", new KvBlockRange(0, 2)));
        Assert.Throws<InvalidDataException>(() => target.Engine.ImportKv(request, source.Engine.ExportKv("m", new KvBlockRange(4, -1))));
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Abort_DuringImport_FreesTheImportedBlocks()
    {
        var (source, request) = Decoding();
        var target = new CoreHarness();
        target.Engine.ImportKv(request, source.Engine.ExportKv("m", new KvBlockRange(0, 4)));
        Assert.Equal(4, target.Engine.Snapshot().UsedKvBlocks);
        Assert.True(target.Engine.Abort("m"));
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Import_TokensThatAreNotTheRequests_IsRefused()
    {
        var (source, request) = Decoding(prompt: 20);
        var part = source.Engine.ExportKv("m", KvBlockRange.All);
        var other = request with { PromptTokenIds = CoreHarness.Prompt(20, seed: 99) };
        var target = new CoreHarness();
        Assert.Throws<InvalidDataException>(() => target.Engine.ImportKv(other, part));
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }
}
