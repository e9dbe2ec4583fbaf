using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace ControlPlane.Models.Folders;

/// <summary>Writes float32 tensors as a safetensors file (what Hugging Face's <c>save_file</c> writes): header length, JSON header, raw data.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, HostTensor> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        foreach (var (name, tensor) in ordered)
        {
            var bytes = tensor.Data.LongLength * sizeof(float);
            header[name] = new { dtype = "F32", shape = tensor.Shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, padded);
        file.Write(prefix);
        file.Write(json);
        for (var i = json.Length; i < padded; i++)
            file.WriteByte((byte)' ');
        foreach (var (_, tensor) in ordered)
            file.Write(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
    }
}
