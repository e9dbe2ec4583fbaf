using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ControlPlane.Engines;
using ControlPlane.Grains.Transfer;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControlPlane.Grains.Tests.Transfer;

public class KvStreamTests
{
    internal static KvPart Part(string request, int first, int blocks, int blockBytes, int seed)
    {
        var payload = new byte[blocks * blockBytes];
        new Random(seed).NextBytes(payload);
        return new KvPart(new KvTransferHeader
        {
            RequestId = request, Model = "m", Layout = "test", DType = "bf16", KvBlockSize = 16,
            FirstBlock = first, BlockCount = blocks, TokenIds = [.. Enumerable.Range(first * 16, blocks * 16)], PayloadBytes = payload.Length,
        }, payload);
    }

    [Fact]
    public async Task Send_PartsOverLoopback_ArriveWholeAndInOrder()
    {
        var received = new ConcurrentQueue<KvPart>();
        // The part's memory is the listener's until the call returns: keep a copy, as an engine's import does.
        await using var listener = new KvStreamListener((part, _) => { received.Enqueue(part with { Payload = part.Payload.ToArray() }); return ValueTask.CompletedTask; }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        KvPart[] parts = [.. Enumerable.Range(0, 10).Select(i => Part("r", i * 4, 4, 64 << 10, i))];

        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);
        var sent = await sender.SendAsync(parts, CancellationToken.None);

        Assert.True(sent > 10 * 4 * (64 << 10));
        Assert.Equal(parts.Select(p => p.Header.FirstBlock), received.Select(p => p.Header.FirstBlock));
        Assert.All(parts.Zip(received), pair => Assert.True(pair.First.Payload.Span.SequenceEqual(pair.Second.Payload.Span), $"part at block {pair.First.Header.FirstBlock} changed in transit"));
    }

    [Fact]
    public async Task Send_ToAReceiverThatRefusesAPart_FailsWithItsReasonAndSendsNoMore()
    {
        var taken = 0;
        await using var listener = new KvStreamListener((part, _) =>
        {
            if (part.Header.FirstBlock == 8)
                throw new EngineRejectedException("no room for 4 imported KV blocks (2 free)");
            Interlocked.Increment(ref taken);
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);

        var error = await Assert.ThrowsAsync<KvTransferException>(() => sender.SendAsync(Enumerable.Range(0, 50).Select(i => Part("r", i * 4, 4, 1024, i)), CancellationToken.None));

        Assert.Contains("no room for 4 imported KV blocks", error.Message);
        Assert.True(taken < 50 - 1, $"the sender went on after the refusal: {taken} parts taken");
    }

    [Fact]
    public async Task Receive_ACorruptedPart_IsNotImportedAndTheStreamEnds()
    {
        var imported = 0;
        await using var listener = new KvStreamListener((_, _) => { Interlocked.Increment(ref imported); return ValueTask.CompletedTask; }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, listener.Port);
        var stream = client.GetStream();
        var frame = new MemoryStream();
        await KvStreamFrames.WritePartAsync(frame, Part("r", 0, 2, 512, 1), CancellationToken.None);
        var bytes = frame.ToArray();
        bytes[^10] ^= 0xFF; // one flipped byte in the payload

        await stream.WriteAsync(bytes);
        var read = await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, read); // closed without an answer
        Assert.Equal(0, imported);
    }
}
