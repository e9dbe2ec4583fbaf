using System.Net.Sockets;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Transfer;

/// <summary>
/// Sends a request's KV parts to another worker's KV endpoint over one TCP connection. At most
/// <see cref="Window"/> parts are in flight unanswered: a receiver that imports slowly slows the sender
/// (back-pressure beyond TCP's own), and a refused or corrupted part fails the transfer at once.
/// </summary>
public sealed class KvStreamSender : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private KvStreamSender(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public int Window { get; init; } = 4;

    public static async Task<KvStreamSender> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true, SendBufferSize = 4 << 20, ReceiveBufferSize = 4 << 20 };
        await client.ConnectAsync(host, port, cancellationToken);
        return new KvStreamSender(client);
    }

    /// <summary>
    /// Sends every part and waits until the receiver has taken each in; returns the bytes sent. One transfer per
    /// connection: the answer reader is cancelled at its end.
    /// </summary>
    public async Task<long> SendAsync(IEnumerable<KvPart> parts, CancellationToken cancellationToken)
    {
        using var window = new SemaphoreSlim(Window);
        using var answers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        string? refusal = null;
        // Answers come back in order; each frees a slot of the window, a refusal frees them all and ends the transfer.
        var reader = Task.Run(async () =>
        {
            while (true)
            {
                if (await KvStreamFrames.ReadAnswerAsync(_stream, answers.Token) is { } answer)
                {
                    Volatile.Write(ref refusal, answer);
                    window.Release(Window);
                    return;
                }
                window.Release();
            }
        }, CancellationToken.None);
        var sent = 0L;
        try
        {
            foreach (var part in parts)
            {
                await WaitAsync(window, reader, cancellationToken);
                if (Volatile.Read(ref refusal) is not null)
                    break;
                sent += await KvStreamFrames.WritePartAsync(_stream, part, cancellationToken);
            }
            await _stream.FlushAsync(cancellationToken);
            // Every slot back means every part answered.
            for (var i = 0; i < Window && Volatile.Read(ref refusal) is null; i++)
                await WaitAsync(window, reader, cancellationToken);
        }
        finally
        {
            await answers.CancelAsync();
            try
            {
                await reader;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }
        return Volatile.Read(ref refusal) is { } reason ? throw new KvTransferException($"the receiving worker refused a KV part: {reason}") : sent;
    }

    /// <summary>
    /// Sends one part and waits for its answer: null when the receiver took it in, else why it refused. For transfers
    /// made of few parts over time (a migration's stages), on a connection that carries no <see cref="SendAsync"/>.
    /// </summary>
    public async Task<string?> SendOneAsync(KvPart part, CancellationToken cancellationToken)
    {
        await KvStreamFrames.WritePartAsync(_stream, part, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
        return await KvStreamFrames.ReadAnswerAsync(_stream, cancellationToken);
    }

    /// <summary>Waits for a slot; a reader that failed (the connection broke) fails the wait instead of hanging it.</summary>
    private static async Task WaitAsync(SemaphoreSlim window, Task reader, CancellationToken cancellationToken)
    {
        var slot = window.WaitAsync(cancellationToken);
        if (await Task.WhenAny(slot, reader) == slot)
        {
            await slot;
            return;
        }
        // The reader ends normally only on a refusal, which the caller reads; otherwise this throws what broke it.
        await reader;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
