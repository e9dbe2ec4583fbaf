using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// KV block data between processes of one host, device to device, by CUDA IPC (the legacy memory handles, as
/// PyTorch's multiprocessing and vLLM's IPC paths use them): the exporter names the caching allocator's segment that
/// holds a gathered part and the part's offset in it; the importer opens the segment once (mapping it, with peer
/// access to the exporter's GPU enabled), copies the part into its own memory on its legacy stream, and waits for that
/// copy alone before it answers, so the exporter may reuse its memory once answered. Over NVLink between two GPUs, or
/// within one GPU between two processes. Anything the driver refuses surfaces as <see cref="KvDeviceUnusableException"/>
/// on the importer (the sender then sends bytes) or as no handle on the exporter.
/// </summary>
internal static unsafe partial class CudaIpc
{
    /// <summary>CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS: the mapping enables peer access to the exporter's GPU.</summary>
    private const uint LazyEnablePeerAccess = 1;

    /// <summary>CU_EVENT_DISABLE_TIMING: the cheapest event, for ordering only.</summary>
    private const uint EventDisableTiming = 2;

    /// <summary>Segments of other processes kept mapped (opening one costs far more than a part's copy); the oldest is closed past this.</summary>
    private const int MappedSegments = 64;

    [StructLayout(LayoutKind.Sequential)]
    private struct IpcMemHandle
    {
        public fixed byte Reserved[64];
    }

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuIpcGetMemHandle(IpcMemHandle* handle, ulong pointer);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuIpcOpenMemHandle_v2")]
    private static partial int cuIpcOpenMemHandle(out ulong pointer, IpcMemHandle handle, uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuIpcCloseMemHandle(ulong pointer);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemGetAddressRange_v2")]
    private static partial int cuMemGetAddressRange(out ulong start, out nuint size, ulong pointer);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    private static partial int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, IntPtr stream);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuEventCreate(out IntPtr cudaEvent, uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuEventRecord(IntPtr cudaEvent, IntPtr stream);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuEventSynchronize(IntPtr cudaEvent);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuEventDestroy_v2")]
    private static partial int cuEventDestroy(IntPtr cudaEvent);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuCtxSynchronize();

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuDeviceGetCount(out int count);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuDeviceGetUuid_v2")]
    private static partial int cuDeviceGetUuid(byte* uuid, int device);

    [LibraryImport(NativeLibraries.Driver)]
    private static partial int cuDeviceCanAccessPeer(out int canAccess, int device, int peer);

    private static readonly ConcurrentDictionary<int, IntPtr> Contexts = new();
    private static readonly Lock MappedGate = new();
    private static readonly Dictionary<string, Mapping> Mapped = new(StringComparer.Ordinal);

    /// <summary>An opened segment: when it was last used, and how many copies read it now (it is never closed under one).</summary>
    private sealed class Mapping(ulong pointer, ulong size)
    {
        public ulong Pointer { get; } = pointer;
        public ulong Size { get; } = size;
        public long Used { get; set; }
        public int Readers { get; set; }
    }
    private static long _uses;

    /// <summary>Makes device <paramref name="ordinal"/>'s primary context (libtorch's) current on this thread.</summary>
    private static void UseDevice(int ordinal)
    {
        NativeLibraries.Register();
        var context = Contexts.GetOrAdd(ordinal, o =>
        {
            CudaApi.Check(CudaApi.cuInit(0), "cuInit");
            CudaApi.Check(CudaApi.cuDeviceGet(out var device, o), "cuDeviceGet");
            CudaApi.Check(CudaApi.cuDevicePrimaryCtxRetain(out var retained, device), "cuDevicePrimaryCtxRetain");
            return retained;
        });
        if (CudaApi.cuCtxGetCurrent(out var current) != 0 || current != context)
            CudaApi.Check(CudaApi.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>
    /// An event recorded on the legacy stream after the work queued so far on device <paramref name="ordinal"/> (a gather):
    /// <see cref="Share"/> waits for it alone. Zero when the driver refuses; the share then waits for the whole device.
    /// </summary>
    public static IntPtr RecordEvent(int ordinal)
    {
        try
        {
            UseDevice(ordinal);
            if (cuEventCreate(out var cudaEvent, EventDisableTiming) != 0)
                return IntPtr.Zero;
            if (cuEventRecord(cudaEvent, IntPtr.Zero) == 0)
                return cudaEvent;
            _ = cuEventDestroy(cudaEvent);
        }
        catch (Exception ex) when (ex is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return IntPtr.Zero;
    }

    public static void DestroyEvent(IntPtr cudaEvent)
    {
        if (cudaEvent != IntPtr.Zero)
            _ = cuEventDestroy(cudaEvent);
    }

    /// <summary>
    /// A handle to <paramref name="bytes"/> at <paramref name="pointer"/> on device <paramref name="ordinal"/>, once
    /// <paramref name="ready"/> (or the whole device) has finished; null when the driver will not export the memory
    /// (an allocator's expandable segments, a driver without IPC).
    /// </summary>
    public static KvDeviceHandle? Share(IntPtr pointer, long bytes, int ordinal, IntPtr ready)
    {
        try
        {
            UseDevice(ordinal);
            CudaApi.Check(ready != IntPtr.Zero ? cuEventSynchronize(ready) : cuCtxSynchronize(), "cuEventSynchronize");
            var address = (ulong)pointer;
            if (cuMemGetAddressRange(out var start, out _, address) != 0)
                return null;
            IpcMemHandle handle;
            if (cuIpcGetMemHandle(&handle, start) != 0)
                return null;
            return new KvDeviceHandle
            {
                Kind = KvDeviceHandle.CudaIpc, HostId = KvHost.BootId, DeviceUuid = Uuid(ordinal), ProcessId = Environment.ProcessId,
                Handle = new ReadOnlySpan<byte>(handle.Reserved, 64).ToArray(), Offset = (long)(address - start), Bytes = bytes,
            };
        }
        catch (Exception ex) when (ex is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Copies the data a handle names into <paramref name="destination"/> (<see cref="KvDeviceHandle.Bytes"/> bytes on
    /// device <paramref name="ordinal"/>), and returns once the copy is done. Throws <see cref="KvDeviceUnusableException"/>
    /// when this process cannot reach the data: another host, the same process, a GPU it does not see or has no peer access to.
    /// </summary>
    public static void CopyFrom(KvDeviceHandle handle, IntPtr destination, int ordinal)
    {
        if (handle.Kind != KvDeviceHandle.CudaIpc)
            throw new KvDeviceUnusableException($"device handles of kind '{handle.Kind}' are not supported here");
        if (KvHost.BootId.Length == 0 || handle.HostId != KvHost.BootId)
            throw new KvDeviceUnusableException($"the device handle comes from host '{handle.HostId}', this is '{KvHost.BootId}'");
        if (handle.ProcessId == Environment.ProcessId)
            throw new KvDeviceUnusableException("a CUDA IPC handle cannot be opened in the process that made it");
        if (handle.Handle.Length != 64)
            throw new KvDeviceUnusableException($"a CUDA IPC handle is 64 bytes, not {handle.Handle.Length}");
        try
        {
            UseDevice(ordinal);
            CheckReachable(handle.DeviceUuid, ordinal);
            var mapping = Open(handle, ordinal);
            try
            {
                // Never read past the segment: a wrong offset would fault this process's context, not just fail the part.
                if (handle.Offset < 0 || handle.Bytes < 0 || (ulong)handle.Offset + (ulong)handle.Bytes > mapping.Size)
                    throw new KvDeviceUnusableException($"the device handle names bytes {handle.Offset}..{handle.Offset + handle.Bytes} of a segment of {mapping.Size}");
                CudaApi.Check(cuEventCreate(out var done, EventDisableTiming), "cuEventCreate");
                try
                {
                    // The legacy stream: after the work this process queued before (the destination's allocation is ordered on it).
                    CudaApi.Check(cuMemcpyDtoDAsync((ulong)destination, mapping.Pointer + (ulong)handle.Offset, (nuint)handle.Bytes, IntPtr.Zero), "cuMemcpyDtoDAsync");
                    CudaApi.Check(cuEventRecord(done, IntPtr.Zero), "cuEventRecord");
                    CudaApi.Check(cuEventSynchronize(done), "cuEventSynchronize");
                }
                finally
                {
                    _ = cuEventDestroy(done);
                }
            }
            finally
            {
                Release(mapping);
            }
        }
        catch (Exception ex) when (ex is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw new KvDeviceUnusableException($"cannot copy KV blocks from GPU {handle.DeviceUuid} of process {handle.ProcessId}: {ex.Message}", ex);
        }
    }

    /// <summary>Throws unless the exporter's GPU is this one or a visible GPU with peer access to it.</summary>
    private static void CheckReachable(string uuid, int ordinal)
    {
        var own = Uuid(ordinal);
        if (uuid == own)
            return;
        CudaApi.Check(cuDeviceGetCount(out var count), "cuDeviceGetCount");
        for (var other = 0; other < count; other++)
        {
            if (other == ordinal || Uuid(other) != uuid)
                continue;
            CudaApi.Check(CudaApi.cuDeviceGet(out var mine, ordinal), "cuDeviceGet");
            CudaApi.Check(CudaApi.cuDeviceGet(out var theirs, other), "cuDeviceGet");
            CudaApi.Check(cuDeviceCanAccessPeer(out var can, mine, theirs), "cuDeviceCanAccessPeer");
            if (can == 0)
                throw new KvDeviceUnusableException($"GPU {own} has no peer access to GPU {uuid}");
            return;
        }
        throw new KvDeviceUnusableException($"GPU {uuid} is not visible to this process (CUDA_VISIBLE_DEVICES must list it after this worker's own GPU: Worker:Gpu sets it so)");
    }

    /// <summary>
    /// The segment a handle names, mapped once and kept, marked as read until <see cref="Release"/>; past
    /// <see cref="MappedSegments"/> the least recently used one that no copy reads is closed.
    /// </summary>
    private static Mapping Open(KvDeviceHandle handle, int ordinal)
    {
        var key = $"{handle.ProcessId}/{ordinal}/{Convert.ToHexString(handle.Handle)}";
        lock (MappedGate)
        {
            if (!Mapped.TryGetValue(key, out var mapping))
            {
                IpcMemHandle raw;
                handle.Handle.CopyTo(new Span<byte>(raw.Reserved, 64));
                CudaApi.Check(cuIpcOpenMemHandle(out var pointer, raw, LazyEnablePeerAccess), "cuIpcOpenMemHandle");
                if (cuMemGetAddressRange(out _, out var size, pointer) != 0)
                {
                    _ = cuIpcCloseMemHandle(pointer);
                    throw new CudaException("cuMemGetAddressRange failed on an opened IPC mapping");
                }
                if (Mapped.Count >= MappedSegments && Mapped.Where(m => m.Value.Readers == 0).MinBy(m => m.Value.Used) is { Value: not null } idle)
                {
                    _ = cuIpcCloseMemHandle(idle.Value.Pointer);
                    Mapped.Remove(idle.Key);
                }
                Mapped[key] = mapping = new Mapping(pointer, size);
            }
            mapping.Used = ++_uses;
            mapping.Readers++;
            return mapping;
        }
    }

    private static void Release(Mapping mapping)
    {
        lock (MappedGate)
            mapping.Readers--;
    }

    /// <summary>The GPU's UUID as nvidia-smi prints it (<c>GPU-xxxxxxxx-xxxx-…</c>).</summary>
    public static string Uuid(int ordinal)
    {
        CudaApi.Check(CudaApi.cuDeviceGet(out var device, ordinal), "cuDeviceGet");
        var bytes = stackalloc byte[16];
        CudaApi.Check(cuDeviceGetUuid(bytes, device), "cuDeviceGetUuid");
        var hex = Convert.ToHexString(new ReadOnlySpan<byte>(bytes, 16)).ToLowerInvariant();
        return $"GPU-{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }
}
