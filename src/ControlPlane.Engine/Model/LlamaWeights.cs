using ControlPlane.Models.Configuration;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Model;

/// <summary>A Llama-family model's weights on one device, in one dtype; loaded from a Hugging Face folder.</summary>
public sealed class LlamaWeights(LlamaConfig config, Tensor embeddings, IReadOnlyList<LlamaLayer> layers, Tensor norm, Tensor lmHead) : IDisposable
{
    public LlamaConfig Config { get; } = config;
    public Tensor Embeddings { get; } = embeddings;
    public IReadOnlyList<LlamaLayer> Layers { get; } = layers;
    public Tensor Norm { get; } = norm;
    public Tensor LmHead { get; } = lmHead;

    public ScalarType DType => Embeddings.dtype;
    public Device Device => Embeddings.device;

    public void Dispose()
    {
        foreach (var layer in Layers)
            layer.Dispose();
        Embeddings.Dispose();
        Norm.Dispose();
        if (!ReferenceEquals(LmHead, Embeddings))
            LmHead.Dispose();
    }
}
