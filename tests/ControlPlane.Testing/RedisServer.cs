using System.Diagnostics;
using System.Net.Sockets;

namespace ControlPlane.Testing;

/// <summary>A real redis-server on a free loopback port, without persistence, stopped by its PID.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Stops the server (an outage); <see cref="RestartAsync"/> brings it back, empty, on the same port.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
            return;
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>Starts the server again on the same port; with a data directory it comes back with its data.</summary>
    public async Task RestartAsync()
    {
        var restarted = await StartAsync(Port, DataDirectory);
        _process.Dispose();
        _process = restarted._process;
    }

    /// <summary>Where the server keeps an append-only file synced on every write, so a restart loses nothing; null: in memory only.</summary>
    public string? DataDirectory { get; private init; }

    public static async Task<RedisServer> StartAsync(int? onPort = null, string? dataDirectory = null)
    {
        var port = onPort ?? FreePort.Next();
        string[] persistence = dataDirectory is null
            ? ["--save", "", "--appendonly", "no"]
            : ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dataDirectory];
        var start = new ProcessStartInfo("redis-server", ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", .. persistence])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not on PATH: install it (apt-get install redis-server) or run .ci/run", ex);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return new RedisServer(process, port) { DataDirectory = dataDirectory };
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        process.Kill();
        throw new TimeoutException($"redis-server did not listen on port {port} within 5 s");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
