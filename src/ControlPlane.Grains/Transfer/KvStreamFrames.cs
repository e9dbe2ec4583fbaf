using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using ControlPlane.Engine.Core.Transfer;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Transfer;

/// <summary>
/// The KV data path's frames on a socket. A part: magic <c>CPKS</c>, its length (8 bytes), its CRC-32 (4 bytes),
/// then the part in the engine core's framing (<see cref="KvTransferFormat"/>), read into one buffer whose
/// payload slice the engine imports. An answer: one status byte
/// (0 taken in, 1 refused), and for a refusal a length-prefixed UTF-8 reason.
/// </summary>
public static class KvStreamFrames
{
    public const int MaxPartBytes = 1 << 30;
    private static ReadOnlySpan<byte> Magic => "CPKS"u8;

    /// <summary>Writes a part: its head and its payload go out as they are, the checksum covering both.</summary>
    public static async ValueTask<long> WritePartAsync(Stream stream, KvPart part, CancellationToken cancellationToken)
    {
        var head = KvTransferFormat.Head(part);
        var crc = new Crc32();
        crc.Append(head);
        crc.Append(part.Payload.Span);
        var prefix = new byte[16];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(4), head.Length + part.Payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12), crc.GetCurrentHashAsUInt32());
        await stream.WriteAsync(prefix, cancellationToken);
        await stream.WriteAsync(head, cancellationToken);
        await stream.WriteAsync(part.Payload, cancellationToken);
        return prefix.Length + head.Length + part.Payload.Length;
    }

    /// <summary>
    /// Reads one part's bytes into a buffer rented from the shared pool and checks them against their checksum;
    /// null at a clean end of stream. The caller returns the buffer to the pool when done with the part.
    /// </summary>
    public static async ValueTask<(byte[] Buffer, int Length)?> ReadPartAsync(Stream stream, CancellationToken cancellationToken)
    {
        var prefix = new byte[16];
        var read = await stream.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
            return null;
        if (read < prefix.Length || !prefix.AsSpan(0, 4).SequenceEqual(Magic))
            throw new InvalidDataException("not a KV data stream: the magic bytes 'CPKS' are missing");
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
            return (buffer, (int)length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public static async ValueTask WriteAnswerAsync(Stream stream, string? refusal, CancellationToken cancellationToken)
    {
        if (refusal is null)
        {
            await stream.WriteAsync(new byte[] { 0 }, cancellationToken);
            return;
        }
        var text = System.Text.Encoding.UTF8.GetBytes(refusal);
        var frame = new byte[5 + text.Length];
        frame[0] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(1), text.Length);
        text.CopyTo(frame, 5);
        await stream.WriteAsync(frame, cancellationToken);
    }

    /// <summary>The receiver's answer to one part: null when taken in, else why it was refused.</summary>
    public static async ValueTask<string?> ReadAnswerAsync(Stream stream, CancellationToken cancellationToken)
    {
        var status = new byte[5];
        await stream.ReadExactlyAsync(status.AsMemory(0, 1), cancellationToken);
        if (status[0] == 0)
            return null;
        await stream.ReadExactlyAsync(status.AsMemory(1, 4), cancellationToken);
        var length = BinaryPrimitives.ReadInt32LittleEndian(status.AsSpan(1));
        var text = new byte[Math.Clamp(length, 0, 1 << 16)];
        await stream.ReadExactlyAsync(text, cancellationToken);
        return System.Text.Encoding.UTF8.GetString(text);
    }

    public static KvPart Decode(byte[] buffer, int length) => KvTransferFormat.Read(buffer.AsMemory(0, length));
}
