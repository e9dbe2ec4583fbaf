using System.Globalization;
using System.Runtime.InteropServices;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Pins a worker process to one GPU of its host before CUDA starts: that GPU becomes CUDA device 0 and the host's other
/// GPUs stay visible after it, so blocks another worker left on them can be opened by CUDA IPC and copied over NVLink
/// (a process that sees one GPU alone cannot open memory of another). Indices are the host's (PCI bus order, as
/// nvidia-smi and NVML number them), or positions in a <c>CUDA_VISIBLE_DEVICES</c> already set.
/// </summary>
public static partial class GpuPinning
{
    private static readonly Lock Gate = new();
    private static (int Gpu, string Value)? _applied;

    /// <summary>
    /// <c>CUDA_VISIBLE_DEVICES</c> for a worker on GPU <paramref name="gpu"/>: that GPU first, then the others in order.
    /// <paramref name="current"/>: the variable as set now (indices or UUIDs), null or empty when unset (the host's
    /// <paramref name="hostGpus"/> GPUs).
    /// </summary>
    public static string VisibleDevices(int gpu, string? current, int hostGpus = 16)
    {
        var all = current is { Length: > 0 }
            ? current.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [.. Enumerable.Range(0, hostGpus).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        if (gpu < 0 || gpu >= all.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(gpu), gpu, current is { Length: > 0 }
                ? $"Worker:Gpu {gpu} is not one of the {all.Length} GPUs CUDA_VISIBLE_DEVICES lists ('{current}')"
                : $"Worker:Gpu {gpu} is not one of this host's {all.Length} GPUs");
        }
        return string.Join(',', [all[gpu], .. all.Where((_, i) => i != gpu)]);
    }

    /// <summary>
    /// Sets <c>CUDA_VISIBLE_DEVICES</c> (and <c>CUDA_DEVICE_ORDER=PCI_BUS_ID</c> when unset, so indices are the host's)
    /// in this process's native environment, where CUDA reads it when it starts: call before the first CUDA call.
    /// Returns the value set; the same value again is a no-op, another after the first throws (CUDA may have started).
    /// </summary>
    public static string Apply(int gpu)
    {
        lock (Gate)
        {
            if (_applied is { } done)
            {
                return done.Gpu == gpu ? done.Value
                    : throw new InvalidOperationException($"this process is pinned to GPU {done.Gpu} already (CUDA_VISIBLE_DEVICES={done.Value})");
            }
            var value = VisibleDevices(gpu, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"), HostGpus());
            if (Environment.GetEnvironmentVariable("CUDA_DEVICE_ORDER") is null)
                Set("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
            Set("CUDA_VISIBLE_DEVICES", value);
            _applied = (gpu, value);
            return value;
        }
    }

    /// <summary>The host's NVIDIA GPUs, as the driver lists them; 16 (more than any host has) when it cannot tell.</summary>
    private static int HostGpus()
    {
        try
        {
            return Directory.Exists("/proc/driver/nvidia/gpus") && Directory.GetDirectories("/proc/driver/nvidia/gpus").Length is > 0 and var n ? n : 16;
        }
        catch (IOException)
        {
            return 16;
        }
        catch (UnauthorizedAccessException)
        {
            return 16;
        }
    }

    /// <summary>Both environments: .NET's own copy (which later reads see) and libc's (which CUDA reads).</summary>
    private static void Set(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsLinux() && setenv(name, value, 1) != 0)
            throw new InvalidOperationException($"setenv({name}) failed: {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int setenv(string name, string value, int overwrite);
}
