namespace ControlPlane.Engine.Loading;

/// <summary>One tensor in a safetensors file: its name, dtype, shape and byte range in the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}
