using System.Diagnostics;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// build/torchsharp-glibcxx/fix.sh on an output folder holding several copies of TorchSharp's native shim (what a
/// runtime-specific build or publish in the same tree leaves): every copy is patched, not only the first found.
/// </summary>
public class GlibcxxFixTests
{
    private static readonly string Repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    [Fact]
    public void Fix_SeveralCopies_PatchesEachWhereTheSystemNeedsIt()
    {
        var original = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", "torchsharp", "0.107.0",
            "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(original), $"TorchSharp's package is restored: {original}");
        var output = Directory.CreateTempSubdirectory("glibcxx-fix-").FullName;
        string[] copies = ["libLibTorchSharp.so", "cpu/libLibTorchSharp.so", "linux-x64/libLibTorchSharp.so", "runtimes/linux-x64/native/libLibTorchSharp.so"];
        foreach (var copy in copies)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(output, copy))!);
            File.Copy(original, Path.Combine(output, copy));
        }
        try
        {
            var (code, log) = Run(Path.Combine(Repo, "build", "torchsharp-glibcxx", "fix.sh"), output);
            Assert.True(code == 0, log);
            var systemNeedsIt = Run("/bin/sh", "-c", "grep -qa GLIBCXX_3.4.32 $(ldconfig -p | awk '/libstdc\\+\\+\\.so\\.6 .*x86-64/ {print $NF; exit}')").Code != 0;
            foreach (var copy in copies)
            {
                var needed = Run("patchelf", "--print-needed", Path.Combine(output, copy)).Output;
                Assert.Equal(systemNeedsIt, needed.Contains("libcontrolplane_glibcxx_shim.so", StringComparison.Ordinal));
                Assert.Equal(systemNeedsIt, File.Exists(Path.Combine(output, Path.GetDirectoryName(copy)!, "libcontrolplane_glibcxx_shim.so")));
            }
            // A second run finds nothing left to do.
            var again = Run(Path.Combine(Repo, "build", "torchsharp-glibcxx", "fix.sh"), output);
            Assert.Equal(0, again.Code);
            Assert.DoesNotContain("patched", again.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
