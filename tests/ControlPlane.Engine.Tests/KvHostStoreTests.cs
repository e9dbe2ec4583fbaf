using ControlPlane.Engine.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// The host tier's store queues its copies and makes them in batches: these check that the queue keeps their order
/// (a save before the block is written again, a load after the save into its slot) and that batches of any size land
/// in the right blocks.
/// </summary>
public sealed class KvHostStoreTests
{
    private const int Layers = 2;
    private const int BlockSize = 4;
    private const int KvHeads = 2;
    private const int HeadDim = 8;

    [Fact]
    public void SaveThenWriteThenLoad_TheLoadBringsBackWhatWasSaved()
    {
        using var cache = NewCache(blocks: 4);
        using var copier = new KvBlockCopier(cache);
        using var store = new KvHostStore(copier, cache, blocks: 4);
        Fill(cache, seed: 1);
        var saved = copier.Read([0]);
        var other = copier.Read([3]);
        store.Save(0, 1);                                  // queued
        copier.Write([0], other);                          // block 0 rewritten: the queued save must come first
        store.Load(1, 2);                                  // queued
        Assert.Equal(saved, copier.Read([2]));             // the read makes the queue
        Assert.Equal(other, copier.Read([0]));
    }

    [Fact]
    public void SaveAndLoadOfOneSlotInOneQueue_LoadSeesTheSave()
    {
        using var cache = NewCache(blocks: 4);
        using var copier = new KvBlockCopier(cache);
        using var store = new KvHostStore(copier, cache, blocks: 2);
        Fill(cache, seed: 2);
        var block0 = copier.Read([0]);
        var block1 = copier.Read([1]);
        store.Save(0, 0);
        store.Load(0, 3);
        store.Save(1, 0);                                  // the slot reused: the next load must see block 1
        store.Load(0, 2);
        store.Flush();
        Assert.Equal(block0, copier.Read([3]));
        Assert.Equal(block1, copier.Read([2]));
    }

    [Fact]
    public void ManyBlocks_SavedThenLoadedInReverse_EveryBlockLandsWhereAsked()
    {
        const int blocks = 150; // more than two batches
        using var cache = NewCache(blocks: 2 * blocks);
        using var copier = new KvBlockCopier(cache);
        using var store = new KvHostStore(copier, cache, blocks: blocks);
        Fill(cache, seed: 3);
        var before = Enumerable.Range(0, blocks).Select(b => copier.Read([b])).ToArray();
        for (var b = 0; b < blocks; b++)
            store.Save(b, blocks - 1 - b);
        for (var s = 0; s < blocks; s++)
            store.Load(s, blocks + s);                     // slot s holds block blocks - 1 - s
        store.Flush();
        for (var s = 0; s < blocks; s++)
            Assert.Equal(before[blocks - 1 - s], copier.Read([blocks + s]));
    }

    private static PagedKvCache NewCache(int blocks) => new(Layers, blocks, BlockSize, KvHeads, HeadDim, ScalarType.Float32, CPU);

    private static void Fill(PagedKvCache cache, int seed)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        foreach (var t in cache.Keys.Concat(cache.Values))
            t.copy_(randn(t.shape, generator: generator));
    }
}
