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

    /// <summary>
    /// Makes the queued copies in their order, each run of saves or of loads in batches of up to <see cref="BatchBlocks"/>
    /// blocks: a save before the block is written again, a load after the save into its slot (one stream orders them).
    /// </summary>
    public void Flush()
    {
        for (var start = 0; start < _pending.Count;)
        {
            var save = _pending[start].Save;
            var end = start;
            while (end < _pending.Count && _pending[end].Save == save && end - start < BatchBlocks)
                end++;
            using var scope = NewDisposeScope();
            var batch = _pending.Skip(start).Take(end - start).Select(p => (Rows(p.Slot), p.Block)).ToArray();
            if (save)
                _copier.SaveBlocks(batch);
            else
                _copier.LoadBlocks(batch);
            start = end;
        }
        _pending.Clear();
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
