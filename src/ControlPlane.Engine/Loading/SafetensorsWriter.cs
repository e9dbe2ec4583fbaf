using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Loading;

/// <summary>Writes tensors as a safetensors file (what Hugging Face's <c>save_file</c> writes).</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        foreach (var (name, tensor) in ordered)
        {
            var bytes = tensor.NumberOfElements * tensor.ElementSize;
            header[name] = new { dtype = Name(tensor.dtype), shape = tensor.shape, data_offsets = new[] { offset, offset + bytes } };
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
        {
            using var cpu = tensor.detach().cpu().contiguous();
            file.Write(cpu.bytes);
        }
    }

    private static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        _ => throw new ArgumentException($"dtype {dtype} cannot be written to safetensors here", nameof(dtype)),
    };
}
