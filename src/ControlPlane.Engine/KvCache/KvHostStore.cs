using ControlPlane.Engine.Core.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// The host tier's blocks for a <see cref="PagedKvCache"/>: host tensors of whole blocks' rows (pinned when the cache is
/// on a GPU, so each copy runs at the copy engines' rate), allocated a chunk at a time as the tier fills, so a large
/// tier costs host memory only for what it holds. A block is gathered on the device and copied into its slot, and back.
/// </summary>
public sealed class KvHostStore(KvBlockCopier copier, PagedKvCache cache, int blocks) : IKvHostStore
{
    private const int ChunkBlocks = 256;
    private readonly Tensor?[] _chunks = new Tensor?[(blocks + ChunkBlocks - 1) / ChunkBlocks];
    private readonly long _rowsPerBlock = 2L * cache.Keys.Count * cache.BlockSize;

    public void Save(int block, int slot)
    {
        using var scope = NewDisposeScope();
        copier.SaveBlock(block, Rows(slot));
    }

    public void Load(int slot, int block)
    {
        using var scope = NewDisposeScope();
        copier.LoadBlock(Rows(slot), block);
    }

    private Tensor Rows(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, blocks);
        var chunk = _chunks[slot / ChunkBlocks] ??= Allocate(Math.Min(ChunkBlocks, blocks - slot / ChunkBlocks * ChunkBlocks));
        return chunk.narrow(0, slot % ChunkBlocks * _rowsPerBlock, _rowsPerBlock);
    }

    private Tensor Allocate(int chunkBlocks)
    {
        using var scope = NewDisposeScope();
        var host = empty([chunkBlocks * _rowsPerBlock, cache.KvHeads, cache.HeadDim], cache.DType);
        if (cache.Keys[0].device.type == TorchSharp.DeviceType.CUDA)
            host = host.pin_memory();
        return host.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var chunk in _chunks)
            chunk?.Dispose();
    }
}
