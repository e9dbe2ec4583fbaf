using System.Runtime.InteropServices;

namespace ControlPlane.Engine.Cuda;

/// <summary>The few CUDA driver and NVRTC entry points the engine's kernels need.</summary>
internal static unsafe partial class CudaApi
{
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuInit(uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuCtxGetCurrent(out IntPtr context);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuCtxSetCurrent(IntPtr context);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuModuleLoadData(out IntPtr module, byte* image);

    [LibraryImport(NativeLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, IntPtr stream, IntPtr* parameters, IntPtr* extra);

    /// <summary>CUlaunchConfig: grid, block, dynamic shared memory, stream and launch attributes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LaunchConfig
    {
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedBytes;
        public IntPtr Stream;
        public LaunchAttribute* Attributes;
        public uint AttributeCount;
    }

    /// <summary>CUlaunchAttribute: an id, padded to 8 bytes, then a 64-byte value (here one int).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct LaunchAttribute
    {
        [FieldOffset(0)] public int Id;
        [FieldOffset(8)] public int Value;
    }

    /// <summary>CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: the kernel may start before the previous one in its stream ends.</summary>
    public const int LaunchAttributeProgrammaticStreamSerialization = 6;

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuLaunchKernelEx(LaunchConfig* config, IntPtr function, IntPtr* parameters, IntPtr* extra);

    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: a kernel's dynamic shared memory above the 48 KB default.</summary>
    public const int FunctionAttributeMaxDynamicSharedBytes = 8;

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuStreamCreate(out IntPtr stream, uint flags);

    /// <summary>Queues a copy of <paramref name="bytes"/> from host memory (page-locked: asynchronous) to the device on <paramref name="stream"/>.</summary>
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    public static partial int cuMemcpyHtoDAsync(IntPtr destination, IntPtr source, nuint bytes, IntPtr stream);

    /// <summary>
    /// Queues a host-to-device copy on the legacy default stream (libtorch's default, where graphs replay), with
    /// <paramref name="context"/> made current first where it is not.
    /// </summary>
    public static void CopyToDevice(IntPtr context, IntPtr destination, IntPtr source, long bytes)
    {
        if (cuCtxGetCurrent(out var current) != 0 || current != context)
            Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        Check(cuMemcpyHtoDAsync(destination, source, (nuint)bytes, LegacyStream), "cuMemcpyHtoDAsync");
    }

    /// <summary>CU_STREAM_LEGACY: the legacy default stream, which orders itself with every blocking stream.</summary>
    public static readonly IntPtr LegacyStream = 1;

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuEventCreate(out IntPtr @event, uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuEventRecord(IntPtr @event, IntPtr stream);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuEventSynchronize(IntPtr @event);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);

    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuEventDestroy_v2")]
    public static partial int cuEventDestroy(IntPtr @event);

    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuGetErrorName(int error, out IntPtr name);

    [LibraryImport(NativeLibraries.Nvrtc, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int nvrtcCreateProgram(out IntPtr program, string source, string name, int headers, IntPtr headerSources, IntPtr headerNames);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcCompileProgram(IntPtr program, int optionCount, IntPtr* options);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLogSize(IntPtr program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLog(IntPtr program, byte* log);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBINSize(IntPtr program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBIN(IntPtr program, byte* cubin);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcDestroyProgram(ref IntPtr program);

    /// <summary>Throws, naming the call and the driver's error, when a driver call failed.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0)
            return;
        var name = cuGetErrorName(result, out var text) == 0 ? Marshal.PtrToStringUTF8(text) : null;
        throw new CudaException($"{call} failed: {name ?? "CUDA error"} ({result})");
    }

    private static string ProgramLog(IntPtr program)
    {
        var log = nvrtcGetProgramLogSize(program, out var logSize) == 0 ? new byte[(int)logSize] : [];
        fixed (byte* l = log)
            _ = log.Length > 0 ? nvrtcGetProgramLog(program, l) : 0;
        return System.Text.Encoding.UTF8.GetString(log).TrimEnd('\0');
    }

    /// <summary>Compiles CUDA C to a cubin for one architecture; throws with NVRTC's log when it does not compile.</summary>
    public static byte[] Compile(string source, string name, IReadOnlyList<string> options, out string log)
    {
        if (nvrtcCreateProgram(out var program, source, name, 0, IntPtr.Zero, IntPtr.Zero) is var created and not 0)
            throw new CudaException($"nvrtcCreateProgram failed ({created})");
        var pointers = options.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        try
        {
            int compiled;
            fixed (IntPtr* p = pointers)
                compiled = nvrtcCompileProgram(program, pointers.Length, p);
            if (compiled != 0)
                throw new CudaException($"NVRTC could not compile {name} ({compiled}): {ProgramLog(program)}");
            log = ProgramLog(program);
            if (nvrtcGetCUBINSize(program, out var size) is var sized and not 0)
                throw new CudaException($"nvrtcGetCUBINSize failed ({sized})");
            var cubin = new byte[(int)size];
            int got;
            fixed (byte* c = cubin)
                got = nvrtcGetCUBIN(program, c);
            return got == 0 ? cubin : throw new CudaException($"nvrtcGetCUBIN failed ({got})");
        }
        finally
        {
            foreach (var p in pointers)
                Marshal.FreeCoTaskMem(p);
            nvrtcDestroyProgram(ref program);
        }
    }

    /// <summary>A device's primary context, made current on this thread, with its compute capability and multiprocessors.</summary>
    public readonly record struct DeviceContext(IntPtr Context, int Major, int Minor, int Multiprocessors);

    /// <summary>Initialises the driver and makes device <paramref name="ordinal"/>'s primary context (libtorch's) current.</summary>
    public static DeviceContext OpenDevice(int ordinal)
    {
        var (handle, major, minor, multiprocessors) = Device(ordinal);
        Check(cuDevicePrimaryCtxRetain(out var context, handle), "cuDevicePrimaryCtxRetain");
        Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        return new DeviceContext(context, major, minor, multiprocessors);
    }

    /// <summary>Device <paramref name="ordinal"/>'s name, compute capability and multiprocessors, e.g. "NVIDIA H100 80GB HBM3, sm_90, 132 SMs".</summary>
    public static string DeviceDescription(int ordinal)
    {
        var (handle, major, minor, multiprocessors) = Device(ordinal);
        var name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, handle), "cuDeviceGetName");
        return $"{Marshal.PtrToStringUTF8((IntPtr)name)}, sm_{major}{minor}, {multiprocessors} SMs";
    }

    /// <summary>The driver initialised, device <paramref name="ordinal"/>'s handle, compute capability and multiprocessors.</summary>
    private static (int Handle, int Major, int Minor, int Multiprocessors) Device(int ordinal)
    {
        NativeLibraries.Register();
        Check(cuInit(0), "cuInit");
        Check(cuDeviceGet(out var handle, ordinal), "cuDeviceGet");
        Check(cuDeviceGetAttribute(out var major, AttributeComputeCapabilityMajor, handle), "cuDeviceGetAttribute");
        Check(cuDeviceGetAttribute(out var minor, AttributeComputeCapabilityMinor, handle), "cuDeviceGetAttribute");
        Check(cuDeviceGetAttribute(out var multiprocessors, AttributeMultiprocessorCount, handle), "cuDeviceGetAttribute");
        return (handle, major, minor, multiprocessors);
    }

    /// <summary>Compiles <paramref name="source"/> (see <see cref="Compile"/>) and loads it as a module into the current context.</summary>
    public static IntPtr LoadModule(string source, string name, IReadOnlyList<string> options, out string log)
    {
        var cubin = Compile(source, name, options, out log);
        IntPtr module;
        fixed (byte* image = cubin)
            Check(cuModuleLoadData(out module, image), "cuModuleLoadData");
        return module;
    }

    /// <summary>
    /// Launches <paramref name="function"/> on <paramref name="stream"/> in <paramref name="context"/> (made current first
    /// where it is not), every argument in an 8-byte slot: pointers and int64 whole, int32 and float in the low half. With
    /// <paramref name="programmatic"/> the kernel may start before the one before it in the stream ends (sm_90).
    /// </summary>
    public static void Launch(IntPtr context, IntPtr function, uint gridX, uint gridY, uint gridZ, uint block, uint sharedBytes, IntPtr stream,
        ReadOnlySpan<long> arguments, bool programmatic = false)
    {
        if (cuCtxGetCurrent(out var current) != 0 || current != context)
            Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        var values = stackalloc long[arguments.Length];
        var pointers = stackalloc IntPtr[arguments.Length];
        for (var i = 0; i < arguments.Length; i++)
        {
            values[i] = arguments[i];
            pointers[i] = (IntPtr)(values + i);
        }
        if (!programmatic)
        {
            Check(cuLaunchKernel(function, gridX, gridY, gridZ, block, 1, 1, sharedBytes, stream, pointers, null), "cuLaunchKernel");
            return;
        }
        var attribute = new LaunchAttribute { Id = LaunchAttributeProgrammaticStreamSerialization, Value = 1 };
        var config = new LaunchConfig
        {
            GridX = gridX, GridY = gridY, GridZ = gridZ, BlockX = block, BlockY = 1, BlockZ = 1, SharedBytes = sharedBytes,
            Stream = stream, Attributes = &attribute, AttributeCount = 1,
        };
        Check(cuLaunchKernelEx(&config, function, pointers, null), "cuLaunchKernelEx");
    }
}

/// <summary>A CUDA driver, NVRTC or graph-capture failure.</summary>
public sealed class CudaException(string message) : Exception(message);
