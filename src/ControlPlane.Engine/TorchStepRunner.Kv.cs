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
        using var gathered = cat(parts, 0);
        var staging = Staging(gathered.shape[0]);
        staging.copy_(gathered); // into pinned host memory: the copy engine's full rate, not a pageable bounce
        return staging.bytes.ToArray();
    }

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
        if (blocks.Count == 0)
            return;
        using var scope = NewDisposeScope();
        var slots = SlotsOf(blocks);
        var rows = blocks.Count * _blockSize;
        var host = Staging(2L * _cache.Keys.Count * rows);
        data.CopyTo(host.bytes);
        var device = host.to(_cache.Keys[0].device);
        for (var l = 0; l < _cache.Keys.Count; l++)
        {
            _cache.Keys[l].index_copy_(0, slots, device.narrow(0, 2L * l * rows, rows));
            _cache.Values[l].index_copy_(0, slots, device.narrow(0, (2L * l + 1) * rows, rows));
        }
    }

    /// <summary>
    /// A host tensor of <paramref name="rows"/> cache rows, pinned when the cache is on a GPU, kept between calls
    /// (one per size; parts are usually the same size). Calls come from the engine loop only, one at a time.
    /// </summary>
    private Tensor Staging(long rows)
    {
        if (_staging.TryGetValue(rows, out var kept))
            return kept;
        var host = empty([rows, _cache.KvHeads, _cache.HeadDim], _cache.DType);
        if (_cache.Keys[0].device.type == TorchSharp.DeviceType.CUDA)
        {
            var pinned = host.pin_memory();
            host.Dispose();
            host = pinned;
        }
        host.DetachFromDisposeScope();
        if (_staging.Count >= 8)
        {
            foreach (var old in _staging.Values)
                old.Dispose();
            _staging.Clear();
        }
        return _staging[rows] = host;
    }

    private readonly Dictionary<long, Tensor> _staging = [];

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
