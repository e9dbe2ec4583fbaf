namespace ControlPlane.Engine.Core.Tests.Transfer;

public class PrefixFetchTests
{
    [Fact]
    public void ExportPrefixImportPrefix_BetweenEngines_TargetSharesTheBlocksAndAnswersAsARecompute()
    {
        var request = CoreHarness.Request("p", 22, 5, seed: 3);
        var recompute = CoreHarness.RunAlone(request);
        var source = new CoreHarness();
        source.Engine.Add(request with { RequestId = "earlier" });
        source.RunToEnd();

        var hasher = new ControlPlane.KvCache.KvBlockHasher("m", 4);
        var hashes = hasher.HashAll(request.PromptTokenIds.ToArray());
        Assert.Equal(5, hashes.Length);
        var part = CoreHarness.RoundTrip(source.Engine.ExportPrefix("f1", hashes, request.PromptTokenIds, 1, 4, hashes[0]));
        Assert.Equal(4, part.Header.BlockCount);
        Assert.Equal(16, part.Header.TokenIds.Count);

        // The target holds block 0 itself (a shorter prompt with the same start ran there) and fetches 1..4.
        var target = new CoreHarness();
        target.Engine.Add(request with { RequestId = "short", PromptTokenIds = request.PromptTokenIds.Take(5).ToArray(), Sampling = request.Sampling with { MaxTokens = 1 } });
        target.RunToEnd();
        Assert.Equal(4, target.Engine.ImportPrefix(part));
        target.Engine.Add(request);
        target.RunToEnd();

        Assert.Equal(recompute.Tokens["p"], target.Tokens["p"]);
        Assert.Equal(20, target.Last["p"].CachedPromptTokens); // 5 blocks of 4, all but the last token's
        Assert.Equal(0, target.Engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void ExportPrefix_BlocksNotHeld_StopsAtTheFirstMissing()
    {
        var source = new CoreHarness();
        var request = CoreHarness.Request("p", 12, 1, seed: 4);
        source.Engine.Add(request);
        source.RunToEnd();
        var hashes = new ControlPlane.KvCache.KvBlockHasher("m", 4).HashAll(request.PromptTokenIds.ToArray());
        ulong[] asked = [hashes[0], hashes[1], 999, hashes[2]];
        var part = source.Engine.ExportPrefix("f", asked, [.. request.PromptTokenIds, .. new int[4]], 0, 4, 0);
        Assert.Equal(2, part.Header.BlockCount);
    }

    [Fact]
    public void ImportPrefix_PayloadOfTheWrongSize_IsRefusedAndLeavesNothing()
    {
        var source = new CoreHarness();
        var request = CoreHarness.Request("p", 12, 1, seed: 4);
        source.Engine.Add(request);
        source.RunToEnd();
        var hashes = new ControlPlane.KvCache.KvBlockHasher("m", 4).HashAll(request.PromptTokenIds.ToArray());
        var part = source.Engine.ExportPrefix("f", hashes, request.PromptTokenIds, 0, 2, new ControlPlane.KvCache.KvBlockHasher("m", 4).Seed);
        var target = new CoreHarness();
        var bad = part with { Payload = part.Payload[..^1] };
        Assert.Throws<InvalidDataException>(() => target.Engine.ImportPrefix(bad));
        Assert.Equal(0, target.Engine.Pool.Cached);
    }
}
