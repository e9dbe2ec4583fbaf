using ControlPlane.Engines;

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
        using var stage1 = new MemoryStream();
        source.Engine.ExportKv("m", new KvBlockRange(0, 2), stage1);
        using var stage2 = new MemoryStream();
        source.Engine.ExportKv("m", new KvBlockRange(2, -1), stage2);
        Assert.True(source.Engine.Abort("m"));

        var target = new EngineDriver();
        stage1.Position = 0;
        target.Engine.ImportKv(request, stage1);
        Assert.False(target.Engine.HasWork);
        stage2.Position = 0;
        target.Engine.ImportKv(request, stage2);
        Assert.Equal(1, target.Engine.Snapshot().RunningRequests);
        target.RunToEnd();

        Assert.Equal(whole.Tokens["m"], sent.Concat(target.Tokens["m"]).ToList());
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Import_OtherModel_IsRefusedWithBothNames()
    {
        var source = new EngineDriver();
        var request = EngineDriver.Request("m", 20, 10);
        source.Engine.Add(request);
        source.Step();
        using var stream = new MemoryStream();
        source.Engine.ExportKv("m", KvBlockRange.All, stream);

        var other = new Simulation.Engine.SimulatedEngine("other-model", EngineDriver.Profile);
        stream.Position = 0;
        var ex = Assert.Throws<InvalidDataException>(() => other.ImportKv(request, stream));
        Assert.Contains("'m'", ex.Message);
        Assert.Contains("'other-model'", ex.Message);
        Assert.Equal(0, other.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void ReadHeader_NotAKvStream_SaysSo()
    {
        using var stream = new MemoryStream("GARBAGE-GARBAGE"u8.ToArray());
        var ex = Assert.Throws<InvalidDataException>(() => KvTransferFormat.ReadHeader(stream));
        Assert.Contains("CPKV", ex.Message);
    }
}
