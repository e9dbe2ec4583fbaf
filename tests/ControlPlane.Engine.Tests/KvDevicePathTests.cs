using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.KvCache;
using ControlPlane.Transfer;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// What of the KV device path runs without a GPU: a cache in host memory neither shares its gathered blocks nor opens a
/// peer's handle (so the sender falls back to bytes), and a worker's GPU pinning puts its GPU first with the others after.
/// </summary>
public sealed class KvDevicePathTests
{
    [Fact]
    public void CacheInHostMemory_GatheredBlocksAreNotShared_AndAHandleIsNotOpened()
    {
        using var cache = new PagedKvCache(2, 8, 4, 2, 8, ScalarType.Float32, CPU);
        var copier = new KvBlockCopier(cache);
        using var gathered = copier.Gather([1, 2]);

        Assert.Null(((IKvDeviceData)gathered).Share());
        var handle = new KvDeviceHandle
        {
            Kind = KvDeviceHandle.CudaIpc, HostId = "h", DeviceUuid = "GPU-x", ProcessId = 1, Handle = new byte[64], Offset = 0, Bytes = gathered.Bytes,
        };
        var error = Assert.Throws<KvDeviceUnusableException>(() => copier.Open(handle, 2));
        Assert.Contains("host memory", error.Message);
    }

    [Fact]
    public void GatheredBlocks_AsBytes_AreLaidOutAsTheHostRead()
    {
        using var cache = new PagedKvCache(2, 8, 4, 2, 8, ScalarType.Float32, CPU);
        for (var l = 0; l < 2; l++)
        {
            cache.Keys[l].copy_(randn(cache.Keys[l].shape));
            cache.Values[l].copy_(randn(cache.Values[l].shape));
        }
        var copier = new KvBlockCopier(cache);
        using var gathered = copier.Gather([5, 1, 2]);
        var read = copier.Read([5, 1, 2]);

        Assert.Equal(read, gathered.ToArray());
        var pooled = new byte[read.Length + 100];
        gathered.CopyTo(pooled);
        Assert.True(pooled.AsSpan(0, read.Length).SequenceEqual(read));
        Assert.Throws<ArgumentException>(() => gathered.CopyTo(new byte[read.Length - 1]));
    }

    [Theory]
    [InlineData(1, null, 2, "1,0")]
    [InlineData(0, null, 2, "0,1")]
    [InlineData(2, null, 4, "2,0,1,3")]
    [InlineData(1, "4,5,6", 16, "5,4,6")]
    [InlineData(0, "GPU-a, GPU-b", 16, "GPU-a,GPU-b")]
    public void Pinning_PutsTheWorkersGpuFirst_AndKeepsTheOthersVisible(int gpu, string? visible, int hostGpus, string expected) =>
        Assert.Equal(expected, GpuPinning.VisibleDevices(gpu, visible, hostGpus));

    [Fact]
    public void Pinning_ToAGpuThatIsNotThere_NamesTheSetting()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => GpuPinning.VisibleDevices(3, "0,1", 16));
        Assert.Contains("Worker:Gpu 3", error.Message);
        Assert.Contains("'0,1'", error.Message);
    }
}
