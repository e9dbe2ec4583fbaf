using ControlPlane.Engine.Core.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// The host tier's blocks for a <see cref="PagedKvCache"/>: host tensors of whole blocks' rows (pinned when the cache is
/// on a GPU, so each copy runs at the copy engines' rate), allocated a chunk at a time as the tier fills, so a large
/// tier costs host memory only for what it holds. A block is gathered on the device and copied into its slot. Loads back
/// are queued and made together (<see cref="KvBlockCopier.LoadBlocks"/>) before the cache is next used: a prefix of
/// thousands of blocks costs a few hundred launches, not tens of thousands.
/// </summary>
public sealed class KvHostStore : IKvHostStore
{
    private const int ChunkBlocks = 256;

    /// <summary>Blocks loaded in one batch at most (the device buffer is this many blocks' rows).</summary>
    private const int LoadBatchBlocks = 256;

    private readonly KvBlockCopier _copier;
    private readonly PagedKvCache _cache;
    private readonly int _blocks;
    private readonly Tensor?[] _chunks;
    private readonly long _rowsPerBlock;
    private readonly List<(int Slot, int Block)> _pending = [];

    public KvHostStore(KvBlockCopier copier, PagedKvCache cache, int blocks)
    {
        _copier = copier;
        _cache = cache;
        _blocks = blocks;
        _chunks = new Tensor?[(blocks + ChunkBlocks - 1) / ChunkBlocks];
        _rowsPerBlock = 2L * cache.Keys.Count * cache.BlockSize;
        copier.PendingWrites = Flush;
    }

    public void Save(int block, int slot)
    {
        Flush(); // a queued load may read this slot, or write this block
        using var scope = NewDisposeScope();
        _copier.SaveBlock(block, Rows(slot));
    }

    public void Load(int slot, int block) => _pending.Add((slot, block));

    /// <summary>Makes the queued loads, in batches of up to <see cref="LoadBatchBlocks"/> blocks.</summary>
    public void Flush()
    {
        for (var start = 0; start < _pending.Count; start += LoadBatchBlocks)
        {
            using var scope = NewDisposeScope();
            var batch = _pending.Skip(start).Take(LoadBatchBlocks).Select(p => (Rows(p.Slot), p.Block)).ToArray();
            _copier.LoadBlocks(batch);
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
