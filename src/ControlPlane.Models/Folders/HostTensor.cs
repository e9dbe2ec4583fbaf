namespace ControlPlane.Models.Folders;

/// <summary>A float32 tensor in host memory, as the random-model writer makes and the safetensors writer writes.</summary>
public sealed record HostTensor(long[] Shape, float[] Data)
{
    public static HostTensor Zeros(params long[] shape) => new(shape, new float[shape.Aggregate(1L, (a, b) => a * b)]);
}
