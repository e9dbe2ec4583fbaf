using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using ControlPlane.Engine.Core.Transfer;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Transfer;

/// <summary>
/// The KV data path's frames on a socket. A part: magic <c>CPKS</c>, its length (8 bytes), its CRC-32 (4 bytes),
/// then the part in the engine core's framing (<see cref="KvTransferFormat"/>), read into one buffer whose
/// payload slice the engine imports. A part whose blocks stay on the sender's GPU for the receiver to copy device to
/// device: magic <c>CPKD</c>, the same length and checksum, the part's head, then its <see cref="KvDeviceHandle"/>
/// (length-prefixed JSON). An answer: one status byte (0 taken in, 1 refused, 2 the device handle cannot be used
/// here: send the bytes), and for 1 and 2 a length-prefixed UTF-8 reason.
/// </summary>
public static class KvStreamFrames
{
    public const int MaxPartBytes = 1 << 30;
    private static ReadOnlySpan<byte> Magic => "CPKS"u8;
    private static ReadOnlySpan<byte> DeviceMagic => "CPKD"u8;

    /// <summary>Writes a part: its head and its payload go out as they are, the checksum covering both.</summary>
    public static async ValueTask<long> WritePartAsync(Stream stream, KvPart part, CancellationToken cancellationToken)
    {
        var head = KvTransferFormat.Head(part);
        var crc = new Crc32();
        crc.Append(head);
        crc.Append(part.Payload.Span);
        var prefix = Prefix(Magic, head.Length + part.Payload.Length, crc.GetCurrentHashAsUInt32());
        await stream.WriteAsync(prefix, cancellationToken);
        await stream.WriteAsync(head, cancellationToken);
        await stream.WriteAsync(part.Payload, cancellationToken);
        return prefix.Length + head.Length + part.Payload.Length;
    }

    /// <summary>Writes a part as its head and a handle to its blocks on the sender's GPU; the blocks stay there until answered.</summary>
    public static async ValueTask<long> WriteDevicePartAsync(Stream stream, KvTransferHeader header, KvDeviceHandle handle, CancellationToken cancellationToken)
    {
        var head = KvTransferFormat.Head(header);
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(handle);
        var body = new byte[head.Length + 4 + json.Length];
        head.CopyTo(body, 0);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(head.Length), json.Length);
        json.CopyTo(body, head.Length + 4);
        var prefix = Prefix(DeviceMagic, body.Length, Crc32.HashToUInt32(body));
        await stream.WriteAsync(prefix, cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
        return prefix.Length + body.Length;
    }

    /// <summary>A frame's 16 leading bytes: its magic, the length of what follows, and its CRC-32.</summary>
    private static byte[] Prefix(ReadOnlySpan<byte> magic, long length, uint crc)
    {
        var prefix = new byte[16];
        magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(4), length);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12), crc);
        return prefix;
    }

    /// <summary>
    /// Reads one part's bytes into a buffer rented from the shared pool and checks them against their checksum;
    /// null at a clean end of stream. The caller returns the buffer to the pool when done with the part.
    /// </summary>
    public static async ValueTask<(byte[] Buffer, int Length, bool OnDevice)?> ReadPartAsync(Stream stream, CancellationToken cancellationToken)
    {
        var prefix = new byte[16];
        var read = await stream.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
            return null;
        var onDevice = read == prefix.Length && prefix.AsSpan(0, 4).SequenceEqual(DeviceMagic);
        if (read < prefix.Length || !(onDevice || prefix.AsSpan(0, 4).SequenceEqual(Magic)))
            throw new InvalidDataException("not a KV data stream: the magic bytes 'CPKS' (or 'CPKD') are missing");
        var length = BinaryPrimitives.ReadInt64LittleEndian(prefix.AsSpan(4));
        if (length is <= 0 or > MaxPartBytes)
            throw new InvalidDataException($"KV part length {length} is out of range (1 byte to {MaxPartBytes})");
        // Pooled: a fresh 16 MiB array per part costs page faults on first touch that halve the stream's speed.
        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            await stream.ReadExactlyAsync(buffer.AsMemory(0, (int)length), cancellationToken);
            var expected = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(12));
            var actual = Crc32.HashToUInt32(buffer.AsSpan(0, (int)length));
            if (actual != expected)
                throw new InvalidDataException($"KV part checksum mismatch: sent {expected:x8}, received {actual:x8}");
            return (buffer, (int)length, onDevice);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public static async ValueTask WriteAnswerAsync(Stream stream, KvAnswer answer, CancellationToken cancellationToken)
    {
        if (answer.Status == KvAnswerStatus.Taken)
        {
            await stream.WriteAsync(new byte[] { 0 }, cancellationToken);
            return;
        }
        var text = System.Text.Encoding.UTF8.GetBytes(answer.Reason ?? "");
        var frame = new byte[5 + text.Length];
        frame[0] = (byte)answer.Status;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(1), text.Length);
        text.CopyTo(frame, 5);
        await stream.WriteAsync(frame, cancellationToken);
    }

    /// <summary>The receiver's answer to one part.</summary>
    public static async ValueTask<KvAnswer> ReadAnswerAsync(Stream stream, CancellationToken cancellationToken)
    {
        var status = new byte[5];
        await stream.ReadExactlyAsync(status.AsMemory(0, 1), cancellationToken);
        if (status[0] == 0)
            return KvAnswer.Taken;
        if (status[0] is not ((byte)KvAnswerStatus.Refused or (byte)KvAnswerStatus.SendBytes))
            throw new InvalidDataException($"KV stream answer status {status[0]} is not known");
        await stream.ReadExactlyAsync(status.AsMemory(1, 4), cancellationToken);
        var length = BinaryPrimitives.ReadInt32LittleEndian(status.AsSpan(1));
        var text = new byte[Math.Clamp(length, 0, 1 << 16)];
        await stream.ReadExactlyAsync(text, cancellationToken);
        return new KvAnswer((KvAnswerStatus)status[0], System.Text.Encoding.UTF8.GetString(text));
    }

    /// <summary>A part read by <see cref="ReadPartAsync"/>; a device part holds its handle, no payload.</summary>
    public static KvPart Decode(byte[] buffer, int length, bool onDevice = false)
    {
        if (!onDevice)
            return KvTransferFormat.Read(buffer.AsMemory(0, length));
        var span = buffer.AsSpan(0, length);
        var header = KvTransferFormat.ReadHead(span, out var used);
        if (span.Length - used < 4)
            throw new InvalidDataException("KV device part has no handle");
        var size = BinaryPrimitives.ReadInt32LittleEndian(span[used..]);
        if (size <= 0 || size > span.Length - used - 4)
            throw new InvalidDataException($"KV device part handle length {size} is out of range");
        var handle = System.Text.Json.JsonSerializer.Deserialize<KvDeviceHandle>(span.Slice(used + 4, size))
            ?? throw new InvalidDataException("KV device part handle is empty");
        if (handle.Bytes != header.PayloadBytes)
            throw new InvalidDataException($"KV device part names {handle.Bytes} bytes but its header says {header.PayloadBytes}");
        return new KvPart(header, ReadOnlyMemory<byte>.Empty) { DeviceHandle = handle };
    }
}

public enum KvAnswerStatus : byte
{
    Taken = 0,
    Refused = 1,

    /// <summary>The part's device handle cannot be used by the receiver: the sender sends the part's bytes instead.</summary>
    SendBytes = 2,
}

/// <summary>The receiver's answer to one part, with the reason for anything but <see cref="KvAnswerStatus.Taken"/>.</summary>
public readonly record struct KvAnswer(KvAnswerStatus Status, string? Reason)
{
    public static KvAnswer Taken => new(KvAnswerStatus.Taken, null);
}
