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
        using var h = new Harness(blocks: 4, slots: 4, seed: 1);
        var (copier, store) = (h.Copier, h.Store);
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
        using var h = new Harness(blocks: 4, slots: 2, seed: 2);
        var (copier, store) = (h.Copier, h.Store);
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
        using var h = new Harness(blocks: 2 * blocks, slots: blocks, seed: 3);
        var (copier, store) = (h.Copier, h.Store);
        var before = Enumerable.Range(0, blocks).Select(b => copier.Read([b])).ToArray();
        for (var b = 0; b < blocks; b++)
            store.Save(b, blocks - 1 - b);
        for (var s = 0; s < blocks; s++)
            store.Load(s, blocks + s);                     // slot s holds block blocks - 1 - s
        store.Flush();
        for (var s = 0; s < blocks; s++)
            Assert.Equal(before[blocks - 1 - s], copier.Read([blocks + s]));
    }

    [Fact]
    public void ReloadIntoReclaimedBlocks_SavesAndLoadsInterleaved_MadeInFewBatchesAndEachLandsRight()
    {
        // A prompt's blocks were pushed to the host; a filler now holds the device blocks. Reloading the prompt reclaims
        // each filler block (saved to the host) and fills it from the prompt's slot: save, load, save, load... in the queue.
        const int blocks = 100;
        using var h = new Harness(blocks: blocks, slots: 2 * blocks, seed: 4);
        var (copier, store) = (h.Copier, h.Store);
        var prompt = Enumerable.Range(0, blocks).Select(b => copier.Read([b])).ToArray();
        for (var b = 0; b < blocks; b++)
            store.Save(b, b);
        store.Flush();
        for (var b = 0; b < blocks; b++)
            copier.Write([b], copier.Read([(b + 1) % blocks]).Select(x => (byte)(x ^ 0x5a)).ToArray()); // the filler's blocks
        var filler = Enumerable.Range(0, blocks).Select(b => copier.Read([b])).ToArray();
        for (var b = 0; b < blocks; b++)
        {
            store.Save(b, blocks + b);                     // the filler's block goes to a free slot
            store.Load(b, b);                              // and the prompt's comes back into it
        }
        store.Flush();
        Assert.InRange(store.LastFlushBatches, 1, 4);      // one run of saves and one of loads, 64 blocks a batch
        for (var b = 0; b < blocks; b++)
            Assert.Equal(prompt[b], copier.Read([b]));
        for (var b = 0; b < blocks; b++)
            store.Load(blocks + b, b);                     // the filler's blocks were saved before being overwritten
        store.Flush();
        for (var b = 0; b < blocks; b++)
            Assert.Equal(filler[b], copier.Read([b]));
    }

    /// <summary>A CPU cache of random keys and values, its copier, and a host store of <c>slots</c> slots over it.</summary>
    private sealed class Harness : IDisposable
    {
        private readonly PagedKvCache _cache;

        public Harness(int blocks, int slots, int seed)
        {
            _cache = new PagedKvCache(Layers, blocks, BlockSize, KvHeads, HeadDim, ScalarType.Float32, CPU);
            using (NewDisposeScope())
            {
                var generator = new TorchSharp.torch.Generator((ulong)seed);
                foreach (var t in _cache.Keys.Concat(_cache.Values))
                    t.copy_(randn(t.shape, generator: generator));
            }
            Copier = new KvBlockCopier(_cache);
            Store = new KvHostStore(Copier, _cache, slots);
        }

        public KvBlockCopier Copier { get; }
        public KvHostStore Store { get; }

        public void Dispose()
        {
            Store.Dispose();
            _cache.Dispose();
        }
    }
}
