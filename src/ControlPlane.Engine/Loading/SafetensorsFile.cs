using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Loading;

/// <summary>
/// Reads a safetensors file (8-byte little-endian header length, JSON header, raw little-endian data): the
/// header on open, each tensor on demand, read from the file straight into the tensor's own memory.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly long _dataStart;

    public SafetensorsFile(string path)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        Span<byte> prefix = stackalloc byte[8];
        if (_stream.Read(prefix) != 8)
            throw new InvalidDataException($"{path}: too short to be a safetensors file");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (headerLength <= 1 || headerLength > 100 << 20 || 8 + headerLength > _stream.Length)
            throw new InvalidDataException($"{path}: header length {headerLength} is out of range for a file of {_stream.Length} bytes");
        var header = new byte[headerLength];
        _stream.ReadExactly(header);
        _dataStart = 8 + headerLength;
        Entries = Parse(path, header, _stream.Length - _dataStart);
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>Reads a tensor into a new CPU tensor of its stored dtype.</summary>
    public Tensor Read(string name)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        var tensor = empty(entry.Shape, DTypeOf(entry.DType, Path, name));
        if (tensor.NumberOfElements * tensor.ElementSize != entry.ByteLength)
            throw new InvalidDataException($"{Path}: tensor '{name}' holds {entry.ByteLength} bytes, but {entry.DType}{Shape(entry.Shape)} needs {tensor.NumberOfElements * tensor.ElementSize}");
        lock (_stream)
        {
            _stream.Position = _dataStart + entry.Begin;
            _stream.ReadExactly(tensor.bytes);
        }
        return tensor;
    }

    public void Dispose() => _stream.Dispose();

    public static ScalarType DTypeOf(string dtype, string path, string name) => dtype switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        _ => throw new InvalidDataException($"{path}: tensor '{name}' has dtype {dtype}, which is not supported (F32, F16, BF16)"),
    };

    public static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static Dictionary<string, SafetensorsEntry> Parse(string path, byte[] header, long dataLength)
    {
        using var json = JsonDocument.Parse(header);
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
                continue;
            var v = property.Value;
            var offsets = v.GetProperty("data_offsets");
            var entry = new SafetensorsEntry(property.Name, v.GetProperty("dtype").GetString()!,
                [.. v.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())], offsets[0].GetInt64(), offsets[1].GetInt64());
            if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > dataLength)
                throw new InvalidDataException($"{path}: tensor '{entry.Name}' points outside the file (bytes {entry.Begin}..{entry.End} of {dataLength})");
            entries.Add(entry.Name, entry);
        }
        return entries;
    }
}
