using static TorchSharp.torch;

namespace ControlPlane.Engine.Model;

/// <summary>One decoder layer's weights, with Q/K/V and gate/up fused into one matrix each (fewer kernels per step).</summary>
public sealed class LlamaLayer(Tensor inputNorm, Tensor qkv, Tensor? qkvBias, Tensor output, Tensor postNorm, Tensor gateUp, Tensor down) : IDisposable
{
    public Tensor InputNorm { get; } = inputNorm;
    public Tensor Qkv { get; } = qkv;
    public Tensor? QkvBias { get; } = qkvBias;
    public Tensor Output { get; } = output;
    public Tensor PostNorm { get; } = postNorm;
    public Tensor GateUp { get; } = gateUp;
    public Tensor Down { get; } = down;

    public void Dispose()
    {
        foreach (var t in new[] { InputNorm, Qkv, QkvBias, Output, PostNorm, GateUp, Down })
            t?.Dispose();
    }
}
