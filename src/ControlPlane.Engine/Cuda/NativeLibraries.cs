using System.Reflection;
using System.Runtime.InteropServices;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Finds the native libraries the CUDA path calls: the driver (<c>libcuda.so.1</c>), NVRTC (from
/// <c>CONTROLPLANE_NVRTC_LIBRARY</c>, beside libtorch, in a pip <c>nvidia</c> folder or the CUDA toolkit), and
/// libtorch's own CUDA libraries and TorchSharp's shim, which are already loaded: they are found in the
/// process's memory map, so the very copies TorchSharp uses are the ones called.
/// </summary>
internal static class NativeLibraries
{
    public const string Driver = "cuda";
    public const string Nvrtc = "nvrtc";
    public const string C10Cuda = "c10_cuda";
    public const string TorchCuda = "torch_cuda";
    public const string TorchSharp = "LibTorchSharp";
    public const string CublasLt = "cublasLt";

    private static readonly Lock Gate = new();
    private static bool _registered;

    public static void Register()
    {
        lock (Gate)
        {
            if (_registered)
                return;
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
            _registered = true;
        }
    }

    // One handle per library name: every imported function of a library binds to the same copy.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IntPtr> Resolved = new(StringComparer.Ordinal);

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (Resolved.TryGetValue(name, out var known))
            return known;
        var handle = Find(name);
        return handle == IntPtr.Zero ? handle : Resolved.GetOrAdd(name, handle);
    }

    private static IntPtr Find(string name)
    {
        IEnumerable<string> candidates = name switch
        {
            Driver => ["libcuda.so.1", "libcuda.so"],
            Nvrtc => NvrtcCandidates(),
            C10Cuda => Loaded("libc10_cuda.so").Append("libc10_cuda.so"),
            TorchCuda => Loaded("libtorch_cuda.so").Append("libtorch_cuda.so"),
            TorchSharp => Loaded("libLibTorchSharp.so").Append("libLibTorchSharp.so"),
            // The copy libtorch_cuda links (pip wheels, CUDA 13 or 12), else the toolkit's by its soname.
            CublasLt => Loaded("libcublasLt.so").Concat(["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"]),
            _ => [],
        };
        foreach (var candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out var handle))
                return handle;
        }
        return IntPtr.Zero;
    }

    private static IEnumerable<string> NvrtcCandidates()
    {
        if (Environment.GetEnvironmentVariable("CONTROLPLANE_NVRTC_LIBRARY") is { Length: > 0 } configured)
            yield return configured;
        // Not libnvrtc-builtins, which NVRTC itself loads at its first compile: a name resolved after that (each imported
        // function is bound on its first call) would otherwise land on it and miss its entry point.
        foreach (var loaded in Loaded("libnvrtc").Where(IsNvrtc))
            yield return loaded;
        yield return "libnvrtc.so.13";
        yield return "libnvrtc.so.12";
        yield return "libnvrtc.so";
        var directories = new List<string>();
        foreach (var torch in Loaded("libtorch_cuda.so"))
        {
            var lib = Path.GetDirectoryName(torch)!;
            directories.Add(lib);                                              // libtorch zips carry libnvrtc-<hash>.so.*
            directories.Add(Path.Combine(lib, "..", "..", "nvidia", "cu13", "lib")); // pip wheels, CUDA 13
            directories.Add(Path.Combine(lib, "..", "..", "nvidia", "cuda_nvrtc", "lib")); // pip wheels, CUDA 12
        }
        directories.Add("/usr/local/cuda/lib64");
        foreach (var directory in directories.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(directory, "libnvrtc*.so*").Order(StringComparer.Ordinal).Where(IsNvrtc))
                yield return file;
        }
    }

    private static bool IsNvrtc(string path) =>
        !Path.GetFileName(path).Contains("builtins", StringComparison.Ordinal) && !Path.GetFileName(path).Contains(".alt.", StringComparison.Ordinal);

    /// <summary>Paths of loaded libraries whose file name starts with <paramref name="prefix"/>.</summary>
    private static IEnumerable<string> Loaded(string prefix)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/maps");
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
        return lines
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var at and >= 0 ? line[at..] : "")
            .Where(path => Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
    }
}
