using System.Collections.Concurrent;
using System.Net;
using ControlPlane.Grains.Transfer;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControlPlane.Grains.Tests.Transfer;

/// <summary>
/// The KV data path's choice of transport: parts whose blocks are on a device go as a handle while the receiver can
/// open one, and as bytes from the first time it cannot, with nothing lost either way. The device here is a stand-in
/// that shares host bytes under a made-up handle (the CUDA IPC copy itself runs on the GPU machine: see
/// docs/benchmarks.md); what is tested is the protocol around it over real loopback TCP.
/// </summary>
public class KvDevicePathTests
{
    private static KvPart DevicePart(int first, int blocks, int seed, List<StandInDevice> made)
    {
        var bytes = KvStreamTests.Part("r", first, blocks, 4096, seed);
        var device = new StandInDevice(bytes.Payload.ToArray());
        made.Add(device);
        return new KvPart(bytes.Header, ReadOnlyMemory<byte>.Empty) { DeviceData = device };
    }

    [Fact]
    public async Task DeviceParts_ReceiverOpensTheirHandles_GoAsHandles_AndAreFreedOnceAnswered()
    {
        var handles = new ConcurrentQueue<KvPart>();
        await using var listener = new KvStreamListener((part, _) =>
        {
            Assert.True(part.Payload.IsEmpty, "a device part carries no bytes");
            handles.Enqueue(part);
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        var made = new List<StandInDevice>();
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);

        Assert.Null(await sender.SendOneAsync(DevicePart(0, 4, 1, made), CancellationToken.None));
        Assert.Null(await sender.SendOneAsync(DevicePart(4, 2, 2, made), CancellationToken.None));

        Assert.Equal(KvDevicePath.Yes, sender.DevicePath);
        Assert.Equal((2, 0), (sender.DeviceParts, sender.ByteParts));
        Assert.Equal([0, 4], handles.Select(p => p.Header.FirstBlock));
        Assert.All(handles.Zip(made), pair =>
        {
            Assert.Equal(pair.Second.Handle.Handle, pair.First.DeviceHandle!.Handle);
            Assert.Equal(pair.First.Header.PayloadBytes, pair.First.DeviceHandle!.Bytes);
        });
        Assert.All(made, d => Assert.True(d.Disposed, "the sender frees a part's device memory once it is answered"));
        Assert.All(made, d => Assert.Equal(0, d.CopiedToHost));
    }

    [Fact]
    public async Task ReceiverCannotOpenAHandle_ThePartGoesAsBytes_AndSoDoesEveryLaterPart()
    {
        var received = new ConcurrentQueue<KvPart>();
        var handlesSeen = 0;
        await using var listener = new KvStreamListener((part, _) =>
        {
            if (part.DeviceHandle is not null)
            {
                Interlocked.Increment(ref handlesSeen);
                throw new KvDeviceUnusableException("GPU GPU-test is not visible to this process");
            }
            received.Enqueue(part with { Payload = part.Payload.ToArray() });
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        var made = new List<StandInDevice>();
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);

        for (var i = 0; i < 3; i++)
            Assert.Null(await sender.SendOneAsync(DevicePart(i * 4, 4, i, made), CancellationToken.None));

        Assert.Equal(1, handlesSeen); // asked once; the connection sends bytes from then on
        Assert.Equal(KvDevicePath.No, sender.DevicePath);
        Assert.Contains("not visible", sender.DevicePathRefusal);
        Assert.Equal((1, 3), (sender.DeviceParts, sender.ByteParts));
        Assert.Equal([1, 0, 0], made.Select(d => d.Shares));
        Assert.Equal([0, 4, 8], received.Select(p => p.Header.FirstBlock));
        Assert.All(received.Zip(made), pair => Assert.True(pair.First.Payload.Span.SequenceEqual(pair.Second.Data), "the bytes sent are the device's"));
        Assert.All(made, d => Assert.True(d.Disposed));
    }

    [Fact]
    public async Task ManyDeviceParts_TheFirstGoesAlone_TheRestAsHandlesInAWindow()
    {
        var firstBlocks = new ConcurrentQueue<int>();
        await using var listener = new KvStreamListener((part, _) =>
        {
            Assert.NotNull(part.DeviceHandle);
            firstBlocks.Enqueue(part.Header.FirstBlock);
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        var made = new List<StandInDevice>();
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);

        await sender.SendAsync(Enumerable.Range(0, 12).Select(i => DevicePart(i * 2, 2, i, made)), CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 12).Select(i => i * 2), firstBlocks);
        Assert.Equal(12, sender.DeviceParts);
        Assert.All(made, d => Assert.True(d.Disposed));
    }

    [Fact]
    public async Task DevicePathOff_DevicePartsGoAsBytes_WithoutAHandleAsked()
    {
        var received = new ConcurrentQueue<KvPart>();
        await using var listener = new KvStreamListener((part, _) => { received.Enqueue(part with { Payload = part.Payload.ToArray() }); return ValueTask.CompletedTask; },
            NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        var made = new List<StandInDevice>();
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None, devicePath: false);

        Assert.Null(await sender.SendOneAsync(DevicePart(0, 4, 7, made), CancellationToken.None));

        Assert.Equal(0, made[0].Shares);
        Assert.Null(Assert.Single(received).DeviceHandle);
        Assert.True(received.Single().Payload.Span.SequenceEqual(made[0].Data));
        Assert.True(made[0].Disposed);
    }

    [Fact]
    public async Task DeviceFrame_RoundTrips_AndAHandleOfTheWrongSizeIsRefused()
    {
        var part = KvStreamTests.Part("r", 8, 2, 1024, 3);
        var handle = StandInDevice.HandleFor(part.Header.PayloadBytes);
        var frame = new MemoryStream();
        await KvStreamFrames.WriteDevicePartAsync(frame, part.Header, handle, CancellationToken.None);
        frame.Position = 0;

        var (buffer, length, onDevice) = (await KvStreamFrames.ReadPartAsync(frame, CancellationToken.None))!.Value;
        var decoded = KvStreamFrames.Decode(buffer, length, onDevice);

        Assert.True(onDevice);
        Assert.Equal(handle.Handle, decoded.DeviceHandle!.Handle);
        Assert.Equal((handle.HostId, handle.DeviceUuid, handle.ProcessId, handle.Offset, handle.Bytes),
            (decoded.DeviceHandle.HostId, decoded.DeviceHandle.DeviceUuid, decoded.DeviceHandle.ProcessId, decoded.DeviceHandle.Offset, decoded.DeviceHandle.Bytes));
        Assert.Equal(part.Header.TokenIds, decoded.Header.TokenIds);

        var wrong = new MemoryStream();
        await KvStreamFrames.WriteDevicePartAsync(wrong, part.Header, handle with { Bytes = handle.Bytes - 2 }, CancellationToken.None);
        wrong.Position = 0;
        var (b, l, d) = (await KvStreamFrames.ReadPartAsync(wrong, CancellationToken.None))!.Value;
        var error = Assert.Throws<InvalidDataException>(() => KvStreamFrames.Decode(b, l, d));
        Assert.Contains("header says", error.Message);
    }

    /// <summary>Device data that lives in host memory and shares itself under a made-up handle.</summary>
    private sealed class StandInDevice(byte[] data) : IKvDeviceData
    {
        public byte[] Data { get; } = data;
        public KvDeviceHandle Handle { get; } = HandleFor(data.Length);
        public int Shares { get; private set; }
        public int CopiedToHost { get; private set; }
        public bool Disposed { get; private set; }
        public string Device => "stand-in:0";
        public long Bytes => Data.Length;

        public static KvDeviceHandle HandleFor(long bytes) => new()
        {
            Kind = KvDeviceHandle.CudaIpc, HostId = "test-host", DeviceUuid = "GPU-test", ProcessId = 42,
            Handle = [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 7 + bytes))], Offset = 4096, Bytes = bytes,
        };

        public byte[] ToArray()
        {
            CopiedToHost++;
            return [.. Data];
        }

        public KvDeviceHandle? Share()
        {
            Shares++;
            return Handle;
        }

        public void Dispose() => Disposed = true;
    }
}
