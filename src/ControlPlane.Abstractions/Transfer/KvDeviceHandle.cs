namespace ControlPlane.Transfer;

/// <summary>
/// KV block data left on a GPU for another process of the same host to copy device to device (a CUDA IPC memory
/// handle): what a part carries on the KV data path instead of its bytes when both ends share a host. The exporter
/// keeps the memory, unchanged, until the importer has answered the part.
/// </summary>
public sealed record KvDeviceHandle
{
    /// <summary>The handle's mechanism; <c>cuda-ipc</c> is the one there is.</summary>
    public required string Kind { get; init; }

    /// <summary>The exporting host's kernel boot id: a handle opens only on the host that made it.</summary>
    public required string HostId { get; init; }

    /// <summary>The UUID of the GPU that holds the data (as the driver names it, independent of device numbering).</summary>
    public required string DeviceUuid { get; init; }

    public required int ProcessId { get; init; }

    /// <summary>The opaque handle of the allocation that holds the data (64 bytes for CUDA IPC).</summary>
    public required byte[] Handle { get; init; }

    /// <summary>Where the data starts in that allocation.</summary>
    public required long Offset { get; init; }

    public required long Bytes { get; init; }

    public const string CudaIpc = "cuda-ipc";
}

/// <summary>The host this process runs on, as device handles name it.</summary>
public static class KvHost
{
    /// <summary>The kernel's boot id: the same in every container of a node, different on every other; empty when it cannot be read.</summary>
    public static string BootId { get; } = ReadBootId();

    /// <summary>Whether a peer that names its host <paramref name="hostId"/> may share this host's GPUs: the same boot id, or none given (try, and fall back).</summary>
    public static bool MayBeThisHost(string hostId) => hostId.Length == 0 || hostId == BootId;

    private static string ReadBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}

/// <summary>
/// This process cannot open a part's device handle (another host, a GPU it cannot reach, no driver): the sender
/// sends the part's bytes instead. Nothing of the part was taken in.
/// </summary>
public sealed class KvDeviceUnusableException(string message, Exception? inner = null) : Exception(message, inner);
