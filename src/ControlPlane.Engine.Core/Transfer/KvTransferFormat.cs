using System.Buffers.Binary;
using System.Text.Json;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core.Transfer;

/// <summary>
/// The KV stream's framing, the same for every engine: magic <c>CPKV</c>, a format version, the header as
/// length-prefixed JSON, then <see cref="KvTransferHeader.PayloadBytes"/> of raw block data. Parts follow
/// each other on one stream.
/// </summary>
public static class KvTransferFormat
{
    public const int Version = 2;
    private static ReadOnlySpan<byte> Magic => "CPKV"u8;

    public static void Write(Stream destination, KvPart part)
    {
        destination.Write(Head(part));
        destination.Write(part.Payload.Span);
    }

    /// <summary>Everything of the part before its payload (magic, version, header): a sender writes it, then the payload, with no copy of the payload.</summary>
    public static byte[] Head(KvPart part)
    {
        if (part.Payload.Length != part.Header.PayloadBytes)
            throw new ArgumentException($"the part's payload is {part.Payload.Length} bytes but its header says {part.Header.PayloadBytes}", nameof(part));
        return Head(part.Header);
    }

    /// <summary>Magic, version and header, for a part whose blocks do not follow (they stay on a device: see <see cref="KvDeviceHandle"/>).</summary>
    public static byte[] Head(KvTransferHeader header)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var head = new byte[12 + json.Length];
        Magic.CopyTo(head);
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(8), json.Length);
        json.CopyTo(head, 12);
        return head;
    }

    /// <summary>A part from one buffer that holds it whole; the payload is a slice of that buffer, not a copy.</summary>
    public static KvPart Read(ReadOnlyMemory<byte> buffer)
    {
        var header = ReadHead(buffer.Span, out var used);
        if (header.PayloadBytes != buffer.Length - used)
            throw new InvalidDataException($"KV part holds {buffer.Length - used} payload bytes but its header says {header.PayloadBytes}");
        return new KvPart(header, buffer[used..]);
    }

    /// <summary>The header that starts <paramref name="span"/> (magic, version, header); <paramref name="used"/>: its bytes.</summary>
    public static KvTransferHeader ReadHead(ReadOnlySpan<byte> span, out int used)
    {
        if (span.Length < 12 || !span[..4].SequenceEqual(Magic))
            throw new InvalidDataException("not a KV block stream: the magic bytes 'CPKV' are missing");
        var version = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        if (version != Version)
            throw new InvalidDataException($"KV stream format version {version} is not supported (expected {Version})");
        var length = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if (length <= 0 || length > span.Length - 12)
            throw new InvalidDataException($"KV stream header length {length} is out of range");
        var header = JsonSerializer.Deserialize<KvTransferHeader>(span.Slice(12, length))
            ?? throw new InvalidDataException("KV stream header is empty");
        used = 12 + length;
        return header;
    }

    /// <summary>The part as it goes on a stream, in one array.</summary>
    public static byte[] ToArray(KvPart part)
    {
        using var buffer = new MemoryStream();
        Write(buffer, part);
        return buffer.ToArray();
    }

    public static KvPart Read(Stream source)
    {
        Span<byte> prefix = stackalloc byte[12];
        source.ReadExactly(prefix);
        if (!prefix[..4].SequenceEqual(Magic))
            throw new InvalidDataException("not a KV block stream: the magic bytes 'CPKV' are missing");
        var version = BinaryPrimitives.ReadInt32LittleEndian(prefix[4..]);
        if (version != Version)
            throw new InvalidDataException($"KV stream format version {version} is not supported (expected {Version})");
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix[8..]);
        if (length is <= 0 or > 64 << 20)
            throw new InvalidDataException($"KV stream header length {length} is out of range");
        var json = new byte[length];
        source.ReadExactly(json);
        var header = JsonSerializer.Deserialize<KvTransferHeader>(json)
            ?? throw new InvalidDataException("KV stream header is empty");
        if (header.PayloadBytes is < 0 or > int.MaxValue)
            throw new InvalidDataException($"KV stream payload of {header.PayloadBytes} bytes is out of range");
        var payload = new byte[header.PayloadBytes];
        source.ReadExactly(payload);
        return new KvPart(header, payload);
    }
}
