using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// Copies whole blocks of a <see cref="PagedKvCache"/> to and from host memory, for KV export and import: a gather
/// per layer on the device, then one copy through a pinned host buffer (<see cref="PinnedStaging"/>).
/// </summary>
public sealed class KvBlockCopier(PagedKvCache cache)
{
    /// <summary>
    /// Writes queued into the cache and not yet made (the host tier's loads, batched): run before anything reads or
    /// writes the cache's blocks — each method here, and the step runner before each step.
    /// </summary>
    internal Action? PendingWrites { get; set; }

    /// <summary>Makes the queued writes (<see cref="PendingWrites"/>), if any.</summary>
    public void Flush() => PendingWrites?.Invoke();

    /// <summary>Block data layer-major, keys then values, each block's slots in order.</summary>
    public byte[] Read(IReadOnlyList<int> blocks)
    {
        if (blocks.Count == 0)
            return [];
        Flush();
        using var scope = NewDisposeScope();
        var gathered = GatherRows(blocks);
        if (gathered.device.type != TorchSharp.DeviceType.CUDA)
            return gathered.bytes.ToArray(); // made by cat: contiguous
        var staging = PinnedStaging.Rent(gathered.shape, gathered.dtype);
        try
        {
            staging.copy_(gathered); // into pinned host memory: the copy engine's full rate, not a pageable bounce
            return staging.bytes.ToArray();
        }
        finally
        {
            PinnedStaging.Return(staging);
        }
    }

    /// <summary>
    /// The blocks gathered into new device memory, in <see cref="Read"/>'s order: for a cache in this process, device to
    /// device. Both caches' loops use the device's default stream, so the peer's scatter runs after this gather.
    /// </summary>
    public DeviceBlocks Gather(IReadOnlyList<int> blocks)
    {
        Flush();
        using var scope = NewDisposeScope();
        var gathered = GatherRows(blocks);
        gathered.DetachFromDisposeScope();
        // On a GPU, an event after the gather: a share to another process waits for it, not for the steps after it.
        var ready = gathered.device.type == TorchSharp.DeviceType.CUDA ? Cuda.CudaIpc.RecordEvent(Ordinal) : IntPtr.Zero;
        return new DeviceBlocks(gathered, cache.Keys.Count, cache.BlockSize, ready);
    }

    /// <summary>
    /// Copies blocks another process of this host gathered on its GPU (a <see cref="DeviceBlocks.Share"/> handle) into
    /// new memory on this cache's device, device to device, for <see cref="Scatter"/>. Any thread: the copy is ordered
    /// on the device's legacy stream and done when this returns. Throws <see cref="ControlPlane.Transfer.KvDeviceUnusableException"/>
    /// when the handle cannot be used here (the sender then sends the bytes).
    /// </summary>
    public DeviceBlocks Open(ControlPlane.Transfer.KvDeviceHandle handle, int blocks)
    {
        if (cache.Keys[0].device.type != TorchSharp.DeviceType.CUDA)
            throw new ControlPlane.Transfer.KvDeviceUnusableException("this engine's KV cache is in host memory");
        var rows = 2L * cache.Keys.Count * blocks * cache.BlockSize;
        var bytes = rows * cache.KvHeads * cache.HeadDim * cache.Keys[0].ElementSize;
        if (handle.Bytes != bytes)
            throw new InvalidDataException($"the device handle names {handle.Bytes} bytes, expected {bytes} for {blocks} blocks");
        var tensor = empty([rows, cache.KvHeads, cache.HeadDim], cache.DType, cache.Keys[0].device);
        try
        {
            Cuda.CudaIpc.CopyFrom(handle, Cuda.TorchCudaApi.DataPointer(tensor), Ordinal);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        return new DeviceBlocks(tensor, cache.Keys.Count, cache.BlockSize, IntPtr.Zero);
    }

    private int Ordinal => Math.Max(0, (int)cache.Keys[0].device.index);

    /// <summary>Writes blocks gathered by a peer's <see cref="Gather"/>; false when they are of another device, type or shape.</summary>
    public bool Scatter(IReadOnlyList<int> blocks, DeviceBlocks data)
    {
        var tensor = data.Tensor;
        var rows = (long)blocks.Count * cache.BlockSize;
        if (tensor.device.ToString() != cache.Keys[0].device.ToString() || tensor.dtype != cache.DType || data.Layers != cache.Keys.Count
            || data.BlockSize != cache.BlockSize || tensor.shape[0] != 2L * cache.Keys.Count * rows || tensor.shape[1] != cache.KvHeads || tensor.shape[2] != cache.HeadDim)
            return false;
        Flush();
        using var scope = NewDisposeScope();
        ScatterRows(blocks, tensor);
        return true;
    }

    public void Write(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
        if (blocks.Count == 0)
            return;
        Flush();
        using var scope = NewDisposeScope();
        long[] shape = [2L * cache.Keys.Count * blocks.Count * cache.BlockSize, cache.KvHeads, cache.HeadDim];
        if (cache.Keys[0].device.type != TorchSharp.DeviceType.CUDA)
        {
            var rows = empty(shape, cache.DType);
            data.CopyTo(rows.bytes);
            ScatterRows(blocks, rows);
            return;
        }
        var host = PinnedStaging.Rent(shape, cache.DType);
        try
        {
            data.CopyTo(host.bytes);
            ScatterRows(blocks, host.to(cache.Keys[0].device)); // a blocking copy: the buffer is free again after it
        }
        finally
        {
            PinnedStaging.Return(host);
        }
    }

    /// <summary>
    /// Copies each block's rows (in <see cref="Read"/>'s layout for that block alone) into its host tensor: one gather a
    /// layer for keys and one for values over all the blocks, one reorder to block-major, then one non-blocking copy a block
    /// into pinned memory. A later load from the same host rows runs after it on the stream.
    /// </summary>
    internal void SaveBlocks(IReadOnlyList<(Tensor Rows, int Block)> saves)
    {
        if (saves.Count == 0)
            return;
        using var scope = NewDisposeScope();
        var slots = SlotsOf([.. saves.Select(s => s.Block)]);
        var parts = new List<Tensor>(2 * cache.Keys.Count);
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            parts.Add(cache.Keys[l].index_select(0, slots));
            parts.Add(cache.Values[l].index_select(0, slots));
        }
        var blockMajor = stack(parts, 0).view(cache.Keys.Count, 2, saves.Count, cache.BlockSize, cache.KvHeads, cache.HeadDim)
            .permute(2, 0, 1, 3, 4, 5).contiguous();
        for (var i = 0; i < saves.Count; i++)
            saves[i].Rows.copy_(blockMajor[i].view(-1, cache.KvHeads, cache.HeadDim), true);
    }

    /// <summary>
    /// Writes rows saved by <see cref="SaveBlocks"/> back into their blocks, all at once: one non-blocking copy a block
    /// from pinned memory into one device buffer, then one scatter a layer for keys and one for values (a block at a time
    /// would be 64 scatters each, thousands of launches for a long prefix). The step's kernels queue behind the copies on
    /// the same stream; the store keeps the rows, and a later save into a slot waits for the stream.
    /// </summary>
    internal void LoadBlocks(IReadOnlyList<(Tensor Rows, int Block)> loads)
    {
        if (loads.Count == 0)
            return;
        using var scope = NewDisposeScope();
        var device = cache.Keys[0].device;
        var rowsPerBlock = 2L * cache.Keys.Count * cache.BlockSize;
        var staged = empty([loads.Count * rowsPerBlock, cache.KvHeads, cache.HeadDim], cache.DType, device);
        for (var i = 0; i < loads.Count; i++)
            staged.narrow(0, i * rowsPerBlock, rowsPerBlock).copy_(loads[i].Rows, true);
        // Each block's rows are layer-major, keys then values; a layer's keys over all blocks are a strided view.
        var byLayer = staged.view(loads.Count, cache.Keys.Count, 2, cache.BlockSize, cache.KvHeads, cache.HeadDim);
        var slots = SlotsOf([.. loads.Select(l => l.Block)]);
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            cache.Keys[l].index_copy_(0, slots, byLayer.select(1, l).select(1, 0).reshape(-1, cache.KvHeads, cache.HeadDim));
            cache.Values[l].index_copy_(0, slots, byLayer.select(1, l).select(1, 1).reshape(-1, cache.KvHeads, cache.HeadDim));
        }
    }

    /// <summary>Every layer's keys then values of the blocks' slots, stacked in one device tensor (in the caller's dispose scope).</summary>
    private Tensor GatherRows(IReadOnlyList<int> blocks)
    {
        var slots = SlotsOf(blocks);
        var parts = new List<Tensor>(2 * cache.Keys.Count);
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            parts.Add(cache.Keys[l].index_select(0, slots));
            parts.Add(cache.Values[l].index_select(0, slots));
        }
        return cat(parts, 0);
    }

    /// <summary>Writes rows laid out as <see cref="GatherRows"/> makes them, on the cache's device, into the blocks' slots.</summary>
    private void ScatterRows(IReadOnlyList<int> blocks, Tensor rowsOnDevice)
    {
        var slots = SlotsOf(blocks);
        var rows = (long)blocks.Count * cache.BlockSize;
        for (var l = 0; l < cache.Keys.Count; l++)
        {
            cache.Keys[l].index_copy_(0, slots, rowsOnDevice.narrow(0, 2L * l * rows, rows));
            cache.Values[l].index_copy_(0, slots, rowsOnDevice.narrow(0, (2L * l + 1) * rows, rows));
        }
    }

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
}

/// <summary>
/// Pinned host tensors for copies between a GPU's KV blocks and host bytes (<see cref="KvBlockCopier.Read"/> and
/// <see cref="KvBlockCopier.Write"/> on the engine's loop, <see cref="DeviceBlocks.CopyTo"/> on the threads that send parts),
/// kept by shape (parts are usually of one size) up to a few of each: pinning costs far more than the copy.
/// </summary>
internal static class PinnedStaging
{
    private const int PerShape = 4;
    private const int Shapes = 8;
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Stack<Tensor>> Free = new(StringComparer.Ordinal);

    private static string Key(long[] shape, ScalarType dtype) => $"{dtype}:{string.Join('x', shape)}";

    public static Tensor Rent(long[] shape, ScalarType dtype)
    {
        lock (Gate)
        {
            if (Free.TryGetValue(Key(shape, dtype), out var stack) && stack.TryPop(out var kept))
                return kept;
        }
        using var host = empty(shape, dtype);
        var pinned = host.pin_memory();
        pinned.DetachFromDisposeScope();
        return pinned;
    }

    public static void Return(Tensor staging)
    {
        lock (Gate)
        {
            var key = Key(staging.shape, staging.dtype);
            if (!Free.TryGetValue(key, out var stack))
            {
                // Parts of many sizes (prefixes, migrations) would each keep pinned buffers: past a few sizes, start again.
                if (Free.Count >= Shapes)
                {
                    foreach (var old in Free.Values.SelectMany(kept => kept))
                        old.Dispose();
                    Free.Clear();
                }
                Free[key] = stack = new Stack<Tensor>();
            }
            if (stack.Count < PerShape)
            {
                stack.Push(staging);
                return;
            }
        }
        staging.Dispose();
    }
}

/// <summary>
/// Blocks gathered on the device by <see cref="KvBlockCopier.Gather"/>: for a peer cache in this process as they are, for
/// one in another process of this host by a CUDA IPC handle (<see cref="Share"/>), else as host bytes.
/// </summary>
public sealed class DeviceBlocks(Tensor tensor, int layers, int blockSize, IntPtr ready) : ControlPlane.Transfer.IKvDeviceData
{
    private IntPtr _ready = ready;

    public Tensor Tensor { get; } = tensor;
    public int Layers { get; } = layers;
    public int BlockSize { get; } = blockSize;
    public string Device => Tensor.device.ToString();
    public long Bytes => Tensor.NumberOfElements * Tensor.ElementSize;

    /// <summary>To host memory (any thread: the copy follows the gather on the device's default stream).</summary>
    public byte[] ToArray()
    {
        var array = new byte[Bytes];
        CopyTo(array);
        return array;
    }

    /// <summary>
    /// Into <paramref name="destination"/>: from a GPU through a pinned buffer kept for the next part of this size (the copy
    /// engine's full rate, where a pageable copy is staged by the driver through its own), from host memory directly.
    /// </summary>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length < Bytes)
            throw new ArgumentException($"the destination holds {destination.Length} bytes, the blocks {Bytes}", nameof(destination));
        if (Tensor.device.type != TorchSharp.DeviceType.CUDA)
        {
            Tensor.bytes.CopyTo(destination); // gathered by cat or made by empty: contiguous
            return;
        }
        var staging = PinnedStaging.Rent(Tensor.shape, Tensor.dtype);
        try
        {
            staging.copy_(Tensor); // waits for the gather on the device's default stream, then for this copy
            staging.bytes.CopyTo(destination);
        }
        finally
        {
            PinnedStaging.Return(staging);
        }
    }

    /// <summary>A CUDA IPC handle to the gathered blocks once the gather is done; null in host memory or when the driver will not share them.</summary>
    public ControlPlane.Transfer.KvDeviceHandle? Share() => Tensor.device.type == TorchSharp.DeviceType.CUDA
        ? Cuda.CudaIpc.Share(Cuda.TorchCudaApi.DataPointer(Tensor), Bytes, Math.Max(0, (int)Tensor.device.index), _ready)
        : null;

    public void Dispose()
    {
        Cuda.CudaIpc.DestroyEvent(Interlocked.Exchange(ref _ready, IntPtr.Zero));
        Tensor.Dispose();
    }
}
