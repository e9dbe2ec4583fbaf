namespace ControlPlane.Testing.Cluster;

/// <summary>
/// Where the built executables are: beside the repository's <c>src</c> projects, in the build configuration
/// the tests themselves were built in (test projects reference the executables so they are built first).
/// </summary>
public static class Binaries
{
    public static string Server => Find("ControlPlane.Server");
    public static string Worker => Find("ControlPlane.Worker");

    private static string Find(string project)
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var framework = here.Name; // net10.0
        var configuration = here.Parent!.Name; // Release or Debug
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ControlPlane.sln")))
            root = root.Parent;
        if (root is null)
            throw new InvalidOperationException($"no ControlPlane.sln above {AppContext.BaseDirectory}");
        var dll = Path.Combine(root.FullName, "src", project, "bin", configuration, framework, project + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{project} is not built for {configuration}: build the solution first", dll);
    }
}
