using ControlPlane.Engine.Core.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// The host tier's blocks for a <see cref="PagedKvCache"/>: host tensors of whole blocks' rows (pinned when the cache is
/// on a GPU, so each copy runs at the copy engines' rate), allocated a chunk at a time as the tier fills, so a large
/// tier costs host memory only for what it holds. Saves (a block evicted to its slot) and loads (back into a block) are
/// queued and made together (<see cref="KvBlockCopier.SaveBlocks"/>, <see cref="KvBlockCopier.LoadBlocks"/>) before the
/// cache is next used: a prefix of thousands of blocks costs a few thousand launches and copies, not a hundred thousand.
/// </summary>
public sealed class KvHostStore : IKvHostStore
{
    private const int ChunkBlocks = 256;

    /// <summary>Blocks copied in one batch at most (the device buffer holds this many blocks' rows: 128 MiB for Llama-3-8B).</summary>
    private const int BatchBlocks = 64;

    private readonly KvBlockCopier _copier;
    private readonly PagedKvCache _cache;
    private readonly int _blocks;
    private readonly Tensor?[] _chunks;
    private readonly long _rowsPerBlock;

    // Copies asked for and not yet made, in order: saves (device block to host slot) and loads (slot to block).
    private readonly List<(bool Save, int Slot, int Block)> _pending = [];

    public KvHostStore(KvBlockCopier copier, PagedKvCache cache, int blocks)
    {
        _copier = copier;
        _cache = cache;
        _blocks = blocks;
        _chunks = new Tensor?[(blocks + ChunkBlocks - 1) / ChunkBlocks];
        _rowsPerBlock = 2L * cache.Keys.Count * cache.BlockSize;
        copier.PendingWrites = Flush;
    }

    public void Save(int block, int slot) => _pending.Add((true, slot, block));

    public void Load(int slot, int block) => _pending.Add((false, slot, block));

    /// <summary>Batches of copies the last <see cref="Flush"/> made (for tests: a reclaim-then-reload run is a few, not thousands).</summary>
    public int LastFlushBatches { get; private set; }

    /// <summary>
    /// Makes the queued copies as if in their order, in as few batches as that allows: a group's saves run first, then its
    /// loads, each kind in batches of up to <see cref="BatchBlocks"/> blocks. A reload into blocks just reclaimed queues
    /// save, load, save, load... (each block freed to the host, then filled from it): grouped, that is one run of saves and
    /// one of loads, not a batch of one block each. A save joins the group unless a load already in it writes the block
    /// the save reads or reads the slot the save writes (running the save first would change what either sees); a load
    /// joins unless a load in it writes the same block. Otherwise the group is made and a new one begins.
    /// </summary>
    public void Flush()
    {
        LastFlushBatches = 0;
        if (_pending.Count == 0)
            return;
        var saves = new List<(int Slot, int Block)>();
        var loads = new List<(int Slot, int Block)>();
        var loadBlocks = new HashSet<int>();
        var loadSlots = new HashSet<int>();
        foreach (var (save, slot, block) in _pending)
        {
            var conflict = save ? loadBlocks.Contains(block) || loadSlots.Contains(slot) : loadBlocks.Contains(block);
            if (conflict)
            {
                Make(saves, loads);
                loadBlocks.Clear();
                loadSlots.Clear();
            }
            if (save)
            {
                saves.Add((slot, block));
            }
            else
            {
                loads.Add((slot, block));
                loadBlocks.Add(block);
                loadSlots.Add(slot);
            }
        }
        Make(saves, loads);
        _pending.Clear();
    }

    private void Make(List<(int Slot, int Block)> saves, List<(int Slot, int Block)> loads)
    {
        foreach (var (group, save) in new[] { (saves, true), (loads, false) })
        {
            for (var start = 0; start < group.Count; start += BatchBlocks)
            {
                using var scope = NewDisposeScope();
                var batch = group.Skip(start).Take(BatchBlocks).Select(p => (Rows(p.Slot), p.Block)).ToArray();
                if (save)
                    _copier.SaveBlocks(batch);
                else
                    _copier.LoadBlocks(batch);
                LastFlushBatches++;
            }
        }
        saves.Clear();
        loads.Clear();
    }

    private Tensor Rows(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, _blocks);
        var chunk = _chunks[slot / ChunkBlocks] ??= Allocate(Math.Min(ChunkBlocks, _blocks - slot / ChunkBlocks * ChunkBlocks));
        return chunk.narrow(0, slot % ChunkBlocks * _rowsPerBlock, _rowsPerBlock);
    }

    private Tensor Allocate(int chunkBlocks)
    {
        using var scope = NewDisposeScope();
        var host = empty([chunkBlocks * _rowsPerBlock, _cache.KvHeads, _cache.HeadDim], _cache.DType);
        if (_cache.Keys[0].device.type == TorchSharp.DeviceType.CUDA)
            host = host.pin_memory();
        return host.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _copier.PendingWrites = null;
        _pending.Clear();
        foreach (var chunk in _chunks)
            chunk?.Dispose();
    }
}
