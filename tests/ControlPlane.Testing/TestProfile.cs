namespace ControlPlane.Testing;

/// <summary>A performance profile file with short steps (4 ms per decode step), so tests run fast in real time.</summary>
public static class TestProfile
{
    private static readonly Lazy<string> File = new(() =>
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"controlplane-test-profile-{Environment.ProcessId}.json");
        System.IO.File.WriteAllText(path, """
            {
              "name": "test-fast", "provenance": "made up for tests: short steps so tests run in real time",
              "stepOverheadMs": 4, "prefillMsPerToken": 0.002, "decodeMsPerSequence": 0.01, "msPerContextToken": 0,
              "kvBlockSize": 16, "totalKvBlocks": 256, "maxContextTokens": 512, "maxBatchedTokens": 512, "maxRunningRequests": 64
            }
            """);
        return path;
    });

    public static string Path => File.Value;

    private static readonly Lazy<string> SlowFile = new(() =>
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"controlplane-test-profile-slow-{Environment.ProcessId}.json");
        System.IO.File.WriteAllText(path, System.IO.File.ReadAllText(File.Value).Replace("\"stepOverheadMs\": 4", "\"stepOverheadMs\": 50", StringComparison.Ordinal));
        return path;
    });

    /// <summary>The same with 50 ms steps: requests that stay in flight for seconds, whatever the machine's load.</summary>
    public static string SlowPath => SlowFile.Value;
}
