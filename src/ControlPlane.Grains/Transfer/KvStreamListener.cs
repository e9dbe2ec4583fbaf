using System.Net;
using System.Net.Sockets;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Transfer;

/// <summary>
/// A worker's KV endpoint: accepts connections from other workers and hands each part, checked and decoded,
/// to <see cref="Receive"/> (the engine's import, which copies the blocks in: the part's memory is pooled and
/// valid only until <see cref="Receive"/> returns), answering each in order. A part that fails its checksum
/// ends the connection; one the engine refuses is answered with the reason, and the connection goes on. A part that
/// names its blocks on the sender's GPU is handed over with its <see cref="KvPart.DeviceHandle"/>; a receiver that
/// cannot open it throws <see cref="KvDeviceUnusableException"/>, and the sender is asked for the bytes.
/// </summary>
public sealed partial class KvStreamListener(Func<KvPart, CancellationToken, ValueTask> receive, ILogger<KvStreamListener> logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private TcpListener? _listener;
    private Task? _accept;

    public Func<KvPart, CancellationToken, ValueTask> Receive { get; } = receive;

    /// <summary>The port it listens on (the one asked for, or the one the system chose for 0).</summary>
    public int Port => ((IPEndPoint)(_listener ?? throw new InvalidOperationException("not started")).LocalEndpoint).Port;

    public void Start(IPAddress address, int port)
    {
        _listener = new TcpListener(address, port);
        _listener.Start();
        _accept = AcceptAsync(_stop.Token);
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        var connections = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var client = await _listener!.AcceptTcpClientAsync(cancellationToken);
                client.NoDelay = true;
                client.ReceiveBufferSize = 4 << 20;
                connections.RemoveAll(c => c.IsCompleted);
                connections.Add(ServeAsync(client, cancellationToken));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            while (await KvStreamFrames.ReadPartAsync(stream, cancellationToken) is var (buffer, length, onDevice))
            {
                var answer = KvAnswer.Taken;
                try
                {
                    await Receive(KvStreamFrames.Decode(buffer, length, onDevice), cancellationToken);
                }
                catch (KvDeviceUnusableException ex)
                {
                    // Nothing of the part was taken in: its sender sends the bytes instead.
                    answer = new KvAnswer(KvAnswerStatus.SendBytes, ex.Message);
                }
                catch (Exception ex) when (ex is InvalidDataException or ControlPlane.Engines.EngineRejectedException or InvalidOperationException or Engines.MigrationRefusedException)
                {
                    answer = new KvAnswer(KvAnswerStatus.Refused, ex.Message);
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
                await KvStreamFrames.WriteAnswerAsync(stream, answer, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OperationCanceledException or SocketException)
        {
            if (!cancellationToken.IsCancellationRequested)
                LogConnectionFailed(logger, ex, client.Client.RemoteEndPoint?.ToString() ?? "?");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        if (_accept is not null)
            await _accept;
        _stop.Dispose();
    }

    [LoggerMessage(1, LogLevel.Warning, "KV stream from {Remote} ended with an error")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception, string remote);
}
