using ControlPlane.Engine.KvCache;
using ControlPlane.Transfer;

namespace ControlPlane.Engine;

public sealed partial class TorchStepRunner
{
    /// <summary>Block data in <see cref="KvLayout"/>: layer-major, keys then values, each block's slots in order.</summary>
    public byte[] ReadBlocks(IReadOnlyList<int> blocks) => _copier.Read(blocks);

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data) => _copier.Write(blocks, data);

    /// <summary>Device to device, for a peer engine in this process, or by a handle for one in another process of this host.</summary>
    public IKvDeviceData? ReadBlocksOnDevice(IReadOnlyList<int> blocks) => _copier.Gather(blocks);

    /// <summary>The host tier's store: pinned host memory on CUDA, filled chunk by chunk as the tier fills.</summary>
    public ControlPlane.Engine.Core.KvCache.IKvHostStore? CreateHostStore(int blocks) => new KvHostStore(_copier, _cache, blocks);

    /// <summary>Blocks another worker process of this host left on its GPU, copied device to device (CUDA IPC).</summary>
    public IKvDeviceData OpenDeviceHandle(KvDeviceHandle handle, int blocks) => _copier.Open(handle, blocks);

    public bool WriteBlocksFromDevice(IReadOnlyList<int> blocks, IKvDeviceData data) => data is DeviceBlocks device && _copier.Scatter(blocks, device);
}
