using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace ControlPlane.Testing.Cluster;

/// <summary>
/// One silo as its own operating-system process (<c>dotnet ControlPlane.Server.dll</c> or <c>ControlPlane.Worker.dll</c>),
/// with its HTTP port, its recent output for failure messages, and the two ways a pod ends: SIGKILL and SIGTERM.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private SiloProcess(string name, Process process, int httpPort, int siloPort)
    {
        Name = name;
        _process = process;
        HttpPort = httpPort;
        SiloPort = siloPort;
        BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int HttpPort { get; }
    public int SiloPort { get; }
    public Uri BaseAddress { get; }
    public bool HasExited => _process.HasExited;
    public int Id => _process.Id;

    /// <summary>The last lines the process wrote, for messages that say what went wrong.</summary>
    public string RecentOutput => string.Join('\n', _output);

    public static SiloProcess Start(string name, string dll, string settingsFile, IReadOnlyDictionary<string, string> settings, int? siloPort = null, int? httpPort = null)
    {
        var http = httpPort ?? FreePort.Next();
        var silo = siloPort ?? FreePort.Next();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        var all = new Dictionary<string, string>(settings)
        {
            ["Urls"] = $"http://127.0.0.1:{http}",
            ["ControlPlane:Cluster:PodName"] = name,
            ["ControlPlane:Cluster:SiloPort"] = silo.ToString(CultureInfo.InvariantCulture),
            ["ControlPlane:Cluster:GatewayPort"] = "0",
        };
        foreach (var (key, value) in all)
            start.ArgumentList.Add($"--{key}={value}");
        start.Environment["CONTROLPLANE_SETTINGS"] = settingsFile;
        start.Environment["DOTNET_gcServer"] = "0";
        return new SiloProcess(name, Process.Start(start)!, http, silo);
    }

    /// <summary>Waits for <c>/readyz</c> to answer 200; fails with the process's output when it exits or times out.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready:\n{RecentOutput}");
            try
            {
                using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not ready within {timeout}:\n{RecentOutput}");
    }

    /// <summary>SIGKILL: the pod is gone at once, nothing runs after it.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited)
            return;
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as Kubernetes sends on pod deletion: the process drains and leaves by itself.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}:\n{RecentOutput}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        _output.Enqueue(line);
        while (_output.Count > 200)
            _output.TryDequeue(out _);
    }
}
