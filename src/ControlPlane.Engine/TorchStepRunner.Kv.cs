using static TorchSharp.torch;

namespace ControlPlane.Engine;

public sealed partial class TorchStepRunner
{
    /// <summary>Block data in <see cref="KvLayout"/>: layer-major, keys then values, each block's slots in order.</summary>
    public byte[] ReadBlocks(IReadOnlyList<int> blocks)
    {
        if (blocks.Count == 0)
            return [];
        using var scope = NewDisposeScope();
        var slots = SlotsOf(blocks);
        var parts = new List<Tensor>();
        for (var l = 0; l < _cache.Keys.Count; l++)
        {
            parts.Add(_cache.Keys[l].index_select(0, slots));
            parts.Add(_cache.Values[l].index_select(0, slots));
        }
        using var payload = cat(parts, 0).cpu().contiguous();
        return payload.bytes.ToArray();
    }

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
        if (blocks.Count == 0)
            return;
        using var scope = NewDisposeScope();
        var slots = SlotsOf(blocks);
        var rows = blocks.Count * _blockSize;
        var host = empty([2L * _cache.Keys.Count * rows, _cache.KvHeads, _cache.HeadDim], _cache.DType);
        data.CopyTo(host.bytes);
        var device = host.to(_cache.Keys[0].device);
        for (var l = 0; l < _cache.Keys.Count; l++)
        {
            _cache.Keys[l].index_copy_(0, slots, device.narrow(0, 2L * l * rows, rows));
            _cache.Values[l].index_copy_(0, slots, device.narrow(0, (2L * l + 1) * rows, rows));
        }
    }

    private Tensor SlotsOf(IReadOnlyList<int> blocks)
    {
        var slots = new long[blocks.Count * _blockSize];
        for (var b = 0; b < blocks.Count; b++)
        {
            for (var i = 0; i < _blockSize; i++)
                slots[b * _blockSize + i] = (long)blocks[b] * _blockSize + i;
        }
        return tensor(slots, device: _cache.Keys[0].device);
    }
}
