using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ControlPlane.Charts.Tests;

/// <summary>Paths in the repository, and helm from <c>.tools/</c> (build/fetch-helm.sh puts it there).</summary>
internal static class Repository
{
    public static string Root { get; } = Path.GetFullPath(Path.Combine(Here(), "..", ".."));
    public static string Chart => Path.Combine(Root, "charts", "controlplane");
    public static string Examples => Path.Combine(Root, "examples");

    public static string Helm
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("HELM") ?? Path.Combine(Root, ".tools", "helm", "helm");
            return File.Exists(path) ? path : throw new FileNotFoundException($"helm is not at {path}: run build/fetch-helm.sh (make test does)", path);
        }
    }

    public static (int Exit, string Output) RunHelm(params string[] arguments)
    {
        var start = new ProcessStartInfo(Helm, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    private static string Here([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
