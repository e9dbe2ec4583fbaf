using System.Runtime.InteropServices;
using ControlPlane.Power;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// A real GPU's power through NVML (the NVIDIA driver's <c>libnvidia-ml.so.1</c>): the draw is the board's energy counter
/// over the time since the previous read (its instantaneous power where the counter is missing); a cap is the
/// board's power-management limit, which needs the privilege the operator grants (root, or
/// <c>nvidia-smi -acp UNRESTRICTED</c>); a refused cap is an error naming NVML's reason. Lifting the cap restores the
/// board's default limit.
/// </summary>
public sealed class NvmlPowerActuator : IPowerActuator
{
    private const string Library = "libnvidia-ml.so.1";
    private readonly IntPtr _device;
    private readonly uint _minMilliwatts;
    private readonly uint _maxMilliwatts;
    private readonly uint _defaultMilliwatts;
    private readonly Lock _lock = new();
    private ulong? _lastEnergyMillijoules;
    private long _lastRead;
    private double? _cap;

    private NvmlPowerActuator(IntPtr device, uint min, uint max, uint defaultLimit)
    {
        _device = device;
        _minMilliwatts = min;
        _maxMilliwatts = max;
        _defaultMilliwatts = defaultLimit;
        _lastEnergyMillijoules = nvmlDeviceGetTotalEnergyConsumption(device, out var energy) == 0 ? energy : null;
        _lastRead = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>Opens GPU <paramref name="index"/> (as CUDA numbers it when CUDA_DEVICE_ORDER=PCI_BUS_ID); throws <see cref="NvmlException"/> saying why not.</summary>
    public static NvmlPowerActuator Open(int index)
    {
        if (!NativeLibrary.TryLoad(Library, typeof(NvmlPowerActuator).Assembly, null, out _))
            throw new NvmlException($"{Library} is not on this machine: NVML comes with the NVIDIA driver (Models:N:PowerActuator 'nvml' needs a GPU node)");
        Check(nvmlInit_v2(), "nvmlInit");
        Check(nvmlDeviceGetHandleByIndex_v2((uint)index, out var device), $"nvmlDeviceGetHandleByIndex({index})");
        Check(nvmlDeviceGetPowerManagementLimitConstraints(device, out var min, out var max), "nvmlDeviceGetPowerManagementLimitConstraints");
        Check(nvmlDeviceGetPowerManagementDefaultLimit(device, out var defaultLimit), "nvmlDeviceGetPowerManagementDefaultLimit");
        return new NvmlPowerActuator(device, min, max, defaultLimit);
    }

    public double MaxWatts => _defaultMilliwatts / 1000.0;

    public double? CapWatts
    {
        get
        {
            lock (_lock)
                return _cap;
        }
    }

    public double ReadDrawWatts()
    {
        lock (_lock)
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(_lastRead, now).TotalSeconds;
            if (_lastEnergyMillijoules is { } before && seconds > 0.01 && nvmlDeviceGetTotalEnergyConsumption(_device, out var energy) == 0)
            {
                _lastEnergyMillijoules = energy;
                _lastRead = now;
                return (energy - before) / 1000.0 / seconds;
            }
            Check(nvmlDeviceGetPowerUsage(_device, out var milliwatts), "nvmlDeviceGetPowerUsage");
            return milliwatts / 1000.0;
        }
    }

    public void SetCap(double? watts)
    {
        var milliwatts = watts is { } w ? (uint)Math.Clamp(w * 1000, _minMilliwatts, _maxMilliwatts) : _defaultMilliwatts;
        lock (_lock)
        {
            Check(nvmlDeviceSetPowerManagementLimit(_device, milliwatts), $"nvmlDeviceSetPowerManagementLimit({milliwatts} mW)");
            _cap = watts is null ? null : milliwatts / 1000.0;
        }
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
            throw new NvmlException($"NVML {call} failed: {Marshal.PtrToStringAnsi(nvmlErrorString(result))} (code {result})");
    }

    [DllImport(Library)] private static extern int nvmlInit_v2();
    [DllImport(Library)] private static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);
    [DllImport(Library)] private static extern int nvmlDeviceGetPowerUsage(IntPtr device, out uint milliwatts);
    [DllImport(Library)] private static extern int nvmlDeviceGetTotalEnergyConsumption(IntPtr device, out ulong millijoules);
    [DllImport(Library)] private static extern int nvmlDeviceGetPowerManagementLimitConstraints(IntPtr device, out uint minMilliwatts, out uint maxMilliwatts);
    [DllImport(Library)] private static extern int nvmlDeviceGetPowerManagementDefaultLimit(IntPtr device, out uint milliwatts);
    [DllImport(Library)] private static extern int nvmlDeviceSetPowerManagementLimit(IntPtr device, uint milliwatts);
    [DllImport(Library)] private static extern IntPtr nvmlErrorString(int result);
}

/// <summary>NVML is missing or refused a call; the message says which and why.</summary>
public sealed class NvmlException : Exception
{
    public NvmlException() { }
    public NvmlException(string message) : base(message) { }
    public NvmlException(string message, Exception inner) : base(message, inner) { }
}
