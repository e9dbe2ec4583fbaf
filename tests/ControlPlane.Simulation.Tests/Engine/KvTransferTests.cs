using ControlPlane.Engine.Core.Transfer;
using ControlPlane.Requests;
using ControlPlane.Transfer;

namespace ControlPlane.Simulation.Tests.Engine;

public class KvTransferTests
{
    [Fact]
    public void ExportImport_MidDecode_ContinuesWithExactlyTheUninterruptedTokens()
    {
        var whole = new EngineDriver();
        whole.Engine.Add(EngineDriver.Request("m", 50, 40));
        whole.RunToEnd();

        var source = new EngineDriver();
        var request = EngineDriver.Request("m", 50, 40);
        source.Engine.Add(request);
        for (var i = 0; i < 15; i++)
            source.Step();
        var sent = source.Tokens["m"].ToList();

        // Staged: the first blocks while decoding goes on, then the rest in the short stop.
        var stage1 = RoundTrip(source.Engine.ExportKv("m", new KvBlockRange(0, 2)));
        var stage2 = RoundTrip(source.Engine.ExportKv("m", new KvBlockRange(2, -1)));
        Assert.True(source.Engine.Abort("m"));

        var target = new EngineDriver();
        target.Engine.ImportKv(request, stage1);
        Assert.False(target.Engine.HasWork);
        target.Engine.ImportKv(request, stage2);
        Assert.Equal(1, target.Engine.Snapshot().RunningRequests);
        target.RunToEnd();

        Assert.Equal(whole.Tokens["m"], sent.Concat(target.Tokens["m"]).ToList());
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    private static KvPart RoundTrip(KvPart part) => KvTransferFormat.Read(new MemoryStream(KvTransferFormat.ToArray(part)));

    [Fact]
    public void ExportImport_SeededSamplingWithStopString_ContinuesExactly()
    {
        var probe = new EngineDriver();
        probe.Engine.Add(EngineDriver.Request("s", 30, 80, temperature: 1, seed: 5));
        probe.RunToEnd();
        var stop = probe.Text["s"].Substring(probe.Text["s"].Length * 2 / 3, 5);
        var request = EngineDriver.Request("s", 30, 80, temperature: 1, seed: 5, stop: [stop]);
        var whole = new EngineDriver();
        whole.Engine.Add(request);
        whole.RunToEnd();

        var source = new EngineDriver();
        source.Engine.Add(request);
        for (var i = 0; i < 12; i++)
            source.Step();
        var first = RoundTrip(source.Engine.ExportKv("s", new KvBlockRange(0, 1)));
        source.Step();
        var rest = RoundTrip(source.Engine.ExportKv("s", new KvBlockRange(1, -1)));
        Assert.True(source.Engine.Abort("s"));
        var target = new EngineDriver();
        target.Engine.ImportKv(request, first);
        target.Engine.ImportKv(request, rest);
        target.RunToEnd();

        Assert.Equal(whole.Tokens["s"], source.Tokens["s"].Concat(target.Tokens["s"]).ToList());
        Assert.Equal(whole.Text["s"], source.Text["s"] + target.Text["s"]);
        Assert.Equal(FinishReason.Stop, target.Finish["s"]);
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Import_OtherModel_IsRefusedWithBothNames()
    {
        var source = new EngineDriver();
        var request = EngineDriver.Request("m", 20, 10);
        source.Engine.Add(request);
        source.Step();
        var part = RoundTrip(source.Engine.ExportKv("m", KvBlockRange.All));

        var other = new Simulation.Engine.SimulatedEngine("other-model", EngineDriver.Profile);
        var ex = Assert.Throws<InvalidDataException>(() => other.ImportKv(request, part));
        Assert.Contains("'m'", ex.Message);
        Assert.Contains("'other-model'", ex.Message);
        Assert.Equal(0, other.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void ReadHeader_NotAKvStream_SaysSo()
    {
        using var stream = new MemoryStream("GARBAGE-GARBAGE"u8.ToArray());
        var ex = Assert.Throws<InvalidDataException>(() => KvTransferFormat.Read(stream));
        Assert.Contains("CPKV", ex.Message);
    }
}
