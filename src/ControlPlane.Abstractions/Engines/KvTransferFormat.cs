using System.Buffers.Binary;
using System.Text.Json;

namespace ControlPlane.Engines;

/// <summary>
/// The KV stream's framing, the same for every engine: magic <c>CPKV</c>, a format version, the header as
/// length-prefixed JSON, then <see cref="KvTransferHeader.PayloadBytes"/> of raw block data.
/// </summary>
public static class KvTransferFormat
{
    public const int Version = 1;
    private static ReadOnlySpan<byte> Magic => "CPKV"u8;

    public static void WriteHeader(Stream destination, KvTransferHeader header)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        Span<byte> prefix = stackalloc byte[12];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[8..], json.Length);
        destination.Write(prefix);
        destination.Write(json);
    }

    public static KvTransferHeader ReadHeader(Stream source)
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
        return JsonSerializer.Deserialize<KvTransferHeader>(json)
            ?? throw new InvalidDataException("KV stream header is empty");
    }
}
