using System.Runtime.InteropServices;
using TorchSharp;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// libtorch's stream and CUDA-graph entry points, which TorchSharp 0.107 does not wrap, called by their C++
/// names (Itanium ABI, libtorch 2.10/2.11): <c>c10::cuda</c> current-stream control and <c>at::cuda::CUDAGraph</c>,
/// whose capture routes the caching allocator into a private pool exactly as <c>torch.cuda.graph</c> does.
/// A <c>c10::cuda::CUDAStream</c> is 16 trivially copyable bytes, so it passes and returns in two registers.
/// </summary>
internal static partial class TorchCudaApi
{
    /// <summary><c>cudaStreamCaptureModeThreadLocal</c>: other threads' CUDA calls do not break a capture.</summary>
    public const int CaptureModeThreadLocal = 1;

    /// <summary>Bytes reserved for an <c>at::cuda::CUDAGraph</c> object; its real size is a few hundred.</summary>
    public const int GraphObjectBytes = 16 * 1024;

    [StructLayout(LayoutKind.Sequential)]
    public readonly record struct CudaStream(long Device, long Id);

    [StructLayout(LayoutKind.Sequential)]
    public readonly record struct MemoryPoolId(ulong First, ulong Second);

    [LibraryImport(NativeLibraries.C10Cuda, EntryPoint = "_ZN3c104cuda21getStreamFromExternalEP11CUstream_sta")]
    public static partial CudaStream GetStreamFromExternal(IntPtr stream, sbyte device);

    [LibraryImport(NativeLibraries.C10Cuda, EntryPoint = "_ZN3c104cuda20getCurrentCUDAStreamEa")]
    public static partial CudaStream GetCurrentStream(sbyte device);

    [LibraryImport(NativeLibraries.C10Cuda, EntryPoint = "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE")]
    public static partial void SetCurrentStream(CudaStream stream);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraphC1Eb")]
    public static partial void GraphConstruct(IntPtr graph, byte keepGraph);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraphD1Ev")]
    public static partial void GraphDestruct(IntPtr graph);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureMode")]
    public static partial void GraphCaptureBegin(IntPtr graph, ulong poolFirst, ulong poolSecond, int mode);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraph11capture_endEv")]
    public static partial void GraphCaptureEnd(IntPtr graph);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraph6replayEv")]
    public static partial void GraphReplay(IntPtr graph);

    [LibraryImport(NativeLibraries.TorchCuda, EntryPoint = "_ZN2at4cuda9CUDAGraph4poolEv")]
    public static partial MemoryPoolId GraphPool(IntPtr graph);

    [LibraryImport(NativeLibraries.TorchSharp, EntryPoint = "THSTensor_data")]
    private static partial IntPtr TensorData(IntPtr tensor);

    /// <summary>The device address of a tensor's first element (its storage offset included).</summary>
    public static IntPtr DataPointer(torch.Tensor tensor) => TensorData(tensor.Handle);

    /// <summary>Checks that every entry point resolves, without calling any: a libtorch of another ABI fails here, not mid-capture.</summary>
    public static void Probe()
    {
        foreach (var (library, symbol) in new[]
        {
            (NativeLibraries.C10Cuda, "_ZN3c104cuda21getStreamFromExternalEP11CUstream_sta"),
            (NativeLibraries.C10Cuda, "_ZN3c104cuda20getCurrentCUDAStreamEa"),
            (NativeLibraries.C10Cuda, "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraphC1Eb"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraphD1Ev"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureMode"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraph11capture_endEv"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraph6replayEv"),
            (NativeLibraries.TorchCuda, "_ZN2at4cuda9CUDAGraph4poolEv"),
        })
        {
            var handle = NativeLibrary.Load(library, typeof(TorchCudaApi).Assembly, null);
            if (!NativeLibrary.TryGetExport(handle, symbol, out _))
                throw new CudaException($"lib{library}.so has no {symbol}: this libtorch's C++ ABI differs from the one the engine was written for");
        }
    }
}
