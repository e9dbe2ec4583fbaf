using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// Copies whole blocks of a <see cref="PagedKvCache"/> to and from host memory, for KV export and import: a gather
/// per layer on the device, then one copy through a pinned host buffer kept per part size.
/// </summary>
public sealed class KvBlockCopier(PagedKvCache cache) : IDisposable
{
    /// <summary>Block data layer-major, keys then values, each block's slots in order.</summary>
    public byte[] Read(IReadOnlyList<int> blocks)
    {
        if (blocks.Count == 0)
            return [];
        using var scope = NewDisposeScope();
        var slots = SlotsOf(blocks);
        var parts = new List<Tensor>();
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            parts.Add(cache.Keys[l].index_select(0, slots));
            parts.Add(cache.Values[l].index_select(0, slots));
        }
        using var gathered = cat(parts, 0);
        var staging = Staging(gathered.shape[0]);
        staging.copy_(gathered); // into pinned host memory: the copy engine's full rate, not a pageable bounce
        return staging.bytes.ToArray();
    }

    public void Write(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
        if (blocks.Count == 0)
            return;
        using var scope = NewDisposeScope();
        var slots = SlotsOf(blocks);
        var rows = blocks.Count * cache.BlockSize;
        var host = Staging(2L * cache.Keys.Count * rows);
        data.CopyTo(host.bytes);
        var device = host.to(cache.Keys[0].device);
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            cache.Keys[l].index_copy_(0, slots, device.narrow(0, 2L * l * rows, rows));
            cache.Values[l].index_copy_(0, slots, device.narrow(0, (2L * l + 1) * rows, rows));
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
        var host = empty([rows, cache.KvHeads, cache.HeadDim], cache.DType);
        if (cache.Keys[0].device.type == TorchSharp.DeviceType.CUDA)
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
        var slots = new long[blocks.Count * cache.BlockSize];
        for (var b = 0; b < blocks.Count; b++)
        {
            for (var i = 0; i < cache.BlockSize; i++)
                slots[b * cache.BlockSize + i] = (long)blocks[b] * cache.BlockSize + i;
        }
        return tensor(slots, device: cache.Keys[0].device);
    }

    public void Dispose()
    {
        foreach (var staging in _staging.Values)
            staging.Dispose();
        _staging.Clear();
    }
}
