using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>Marks the timed decode steps for a profiler started with <c>--capture-range=cudaProfilerApi</c> (set CONTROLPLANE_PROFILE=1).</summary>
internal static partial class Profiler
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("CONTROLPLANE_PROFILE") == "1";

    public static void Start(Device device)
    {
        if (Enabled && device.type == TorchSharp.DeviceType.CUDA)
            _ = cuProfilerStart();
    }

    public static void Stop(Device device)
    {
        if (Enabled && device.type == TorchSharp.DeviceType.CUDA)
            _ = cuProfilerStop();
    }

    [LibraryImport("libcuda.so.1")]
    private static partial int cuProfilerStart();

    [LibraryImport("libcuda.so.1")]
    private static partial int cuProfilerStop();
}
