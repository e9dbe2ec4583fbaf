using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Transfer;

/// <summary>
/// Sends a request's KV parts to another worker's KV endpoint over one TCP connection. At most
/// <see cref="Window"/> parts are in flight unanswered: a receiver that imports slowly slows the sender
/// (back-pressure beyond TCP's own), and a refused or corrupted part fails the transfer at once.
/// </summary>
/// <remarks>
/// The transport of a part's blocks is chosen here. A part whose blocks are on a GPU (<see cref="KvPart.DeviceData"/>)
/// goes first as a handle to them (<see cref="IKvDeviceData.Share"/>, CUDA IPC): a receiver on the same host with access
/// to that GPU copies them device to device, over NVLink between two GPUs. A receiver that cannot answers so, and this
/// connection sends bytes from then on (<see cref="DevicePath"/>). The sender owns the parts it is given: device data is
/// freed once its part is answered.
/// </remarks>
public sealed class KvStreamSender : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private volatile KvDevicePath _devicePath;

    private KvStreamSender(TcpClient client, bool devicePath)
    {
        _client = client;
        _stream = client.GetStream();
        _devicePath = devicePath ? KvDevicePath.Unknown : KvDevicePath.No;
    }

    public int Window { get; init; } = 4;

    /// <summary>Whether this connection's device parts go as handles (known once one was answered).</summary>
    public KvDevicePath DevicePath => _devicePath;

    /// <summary>Why the receiver could not use a device handle, when it could not.</summary>
    public string? DevicePathRefusal { get; private set; }

    /// <summary>Parts sent as device handles, and as bytes.</summary>
    public int DeviceParts { get; private set; }

    public int ByteParts { get; private set; }

    /// <summary>Connects to a worker's KV endpoint; <paramref name="devicePath"/> false: every part goes as bytes, even between two GPUs of one host.</summary>
    public static async Task<KvStreamSender> ConnectAsync(string host, int port, CancellationToken cancellationToken, bool devicePath = true)
    {
        var client = new TcpClient { NoDelay = true, SendBufferSize = 4 << 20, ReceiveBufferSize = 4 << 20 };
        await client.ConnectAsync(host, port, cancellationToken);
        return new KvStreamSender(client, devicePath);
    }

    /// <summary>
    /// Sends every part and waits until the receiver has taken each in; returns the bytes sent. One transfer per
    /// connection: the answer reader is cancelled at its end.
    /// </summary>
    public async Task<long> SendAsync(IEnumerable<KvPart> parts, CancellationToken cancellationToken)
    {
        using var all = parts.GetEnumerator();
        var sent = 0L;
        if (!all.MoveNext())
            return 0;
        var first = all.Current;
        if (first.DeviceData is not null && _devicePath == KvDevicePath.Unknown)
        {
            // The first device part goes alone: its answer says how the rest go.
            var (answer, bytes) = await SendOneCoreAsync(first, cancellationToken);
            if (answer.Status != KvAnswerStatus.Taken)
                throw new KvTransferException($"the receiving worker refused a KV part: {answer.Reason}");
            sent += bytes;
            if (!all.MoveNext())
                return sent;
        }
        return sent + await SendWindowedAsync(all, cancellationToken);
    }

    /// <summary>The rest of <see cref="SendAsync"/>, from the enumerator's current part on, <see cref="Window"/> parts in flight.</summary>
    private async Task<long> SendWindowedAsync(IEnumerator<KvPart> parts, CancellationToken cancellationToken)
    {
        using var window = new SemaphoreSlim(Window);
        using var answers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var inFlight = new ConcurrentQueue<IKvDeviceData?>();
        string? refusal = null;
        // Answers come back in order; each frees a slot of the window (and its part's device memory), a refusal frees them all
        // and ends the transfer.
        var reader = Task.Run(async () =>
        {
            while (true)
            {
                var answer = await KvStreamFrames.ReadAnswerAsync(_stream, answers.Token);
                if (inFlight.TryDequeue(out var done))
                    done?.Dispose();
                if (answer.Status != KvAnswerStatus.Taken)
                {
                    Volatile.Write(ref refusal, answer.Status == KvAnswerStatus.SendBytes ? $"a device handle could not be used after others were: {answer.Reason}" : answer.Reason);
                    window.Release(Window);
                    return;
                }
                window.Release();
            }
        }, CancellationToken.None);
        var sent = 0L;
        try
        {
            do
            {
                var part = parts.Current;
                await WaitAsync(window, reader, cancellationToken);
                if (Volatile.Read(ref refusal) is not null)
                {
                    part.DeviceData?.Dispose();
                    break;
                }
                var handle = part.DeviceData is { } device && _devicePath == KvDevicePath.Yes ? device.Share() : null;
                inFlight.Enqueue(part.DeviceData);
                sent += handle is not null
                    ? await WriteDeviceAsync(part.Header, handle, cancellationToken)
                    : await WriteBytesAsync(part, cancellationToken);
            }
            while (parts.MoveNext());
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
            while (inFlight.TryDequeue(out var left))
                left?.Dispose();
        }
        return Volatile.Read(ref refusal) is { } reason ? throw new KvTransferException($"the receiving worker refused a KV part: {reason}") : sent;
    }

    /// <summary>
    /// Sends one part and waits for its answer: null when the receiver took it in, else why it refused. For transfers
    /// made of few parts over time (a migration's stages), on a connection that carries no <see cref="SendAsync"/>.
    /// </summary>
    public async Task<string?> SendOneAsync(KvPart part, CancellationToken cancellationToken)
    {
        var (answer, _) = await SendOneCoreAsync(part, cancellationToken);
        return answer.Status == KvAnswerStatus.Taken ? null : answer.Reason;
    }

    /// <summary>One part, as a device handle when this connection may and the data can be shared, else (or when the receiver asks) as bytes.</summary>
    private async Task<(KvAnswer Answer, long Bytes)> SendOneCoreAsync(KvPart part, CancellationToken cancellationToken)
    {
        var owned = part.DeviceData;
        try
        {
            if (owned is { } device)
            {
                if (_devicePath != KvDevicePath.No && device.Share() is { } handle)
                {
                    var written = await WriteDeviceAsync(part.Header, handle, cancellationToken);
                    await _stream.FlushAsync(cancellationToken);
                    var answer = await KvStreamFrames.ReadAnswerAsync(_stream, cancellationToken);
                    if (answer.Status != KvAnswerStatus.SendBytes)
                    {
                        if (answer.Status == KvAnswerStatus.Taken)
                            _devicePath = KvDevicePath.Yes;
                        return (answer, written);
                    }
                    DevicePathRefusal = answer.Reason;
                }
                // The receiver cannot reach this GPU, or the data cannot be shared: bytes, now and for the rest of the connection.
                _devicePath = KvDevicePath.No;
            }
            var bytes = await WriteBytesAsync(part, cancellationToken);
            await _stream.FlushAsync(cancellationToken);
            return (await KvStreamFrames.ReadAnswerAsync(_stream, cancellationToken), bytes);
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static readonly Meter Meter = new(Engines.EngineMetrics.MeterName);
    private static readonly Counter<long> PartsSent =
        Meter.CreateCounter<long>("controlplane.kv_transfer.parts", "{part}", "KV parts sent to other workers, by transport: device (a CUDA IPC handle, copied device to device) or bytes (the socket)");
    private static readonly Counter<long> BytesSent =
        Meter.CreateCounter<long>("controlplane.kv_transfer.bytes", "By", "KV block bytes sent to other workers, by transport");

    private static void Count(string transport, long bytes)
    {
        var tags = new TagList { { "transport", transport } };
        PartsSent.Add(1, tags);
        BytesSent.Add(bytes, tags);
    }

    private async Task<long> WriteDeviceAsync(KvTransferHeader header, KvDeviceHandle handle, CancellationToken cancellationToken)
    {
        DeviceParts++;
        Count("device", handle.Bytes);
        return await KvStreamFrames.WriteDevicePartAsync(_stream, header, handle, cancellationToken);
    }

    /// <summary>
    /// A part as bytes: its device data, if any, copied to host memory here (off the engine's loop), into a pooled buffer
    /// that goes back once written (fresh memory for every part would cost page faults worth half the copy).
    /// </summary>
    private async Task<long> WriteBytesAsync(KvPart part, CancellationToken cancellationToken)
    {
        ByteParts++;
        if (part.DeviceData is not { } device)
        {
            Count("bytes", part.Payload.Length);
            return await KvStreamFrames.WritePartAsync(_stream, part, cancellationToken);
        }
        var length = checked((int)device.Bytes);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            device.CopyTo(buffer.AsSpan(0, length));
            Count("bytes", length);
            return await KvStreamFrames.WritePartAsync(_stream, new KvPart(part.Header, buffer.AsMemory(0, length)), cancellationToken);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
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

/// <summary>How a connection's device parts travel: not yet known, as device handles, or as bytes.</summary>
public enum KvDevicePath
{
    Unknown,
    Yes,
    No,
}
