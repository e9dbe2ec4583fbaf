using ControlPlane.Models.Configuration;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Model;

/// <summary>Rotary position embedding tables (cos, sin) for every position, with Llama-3 frequency scaling when configured.</summary>
public sealed class RotaryEmbedding : IDisposable
{
    public RotaryEmbedding(LlamaConfig config, int maxPositions, Device device, ScalarType dtype)
    {
        var half = config.HeadDim / 2;
        var inverse = new double[half];
        for (var i = 0; i < half; i++)
            inverse[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim);
        if (config.RopeScaling is { } s)
        {
            var lowWavelength = s.OriginalMaxPositions / s.LowFrequencyFactor;
            var highWavelength = s.OriginalMaxPositions / s.HighFrequencyFactor;
            for (var i = 0; i < half; i++)
            {
                var wavelength = 2 * Math.PI / inverse[i];
                if (wavelength > lowWavelength)
                    inverse[i] /= s.Factor;
                else if (wavelength >= highWavelength)
                {
                    var smooth = (s.OriginalMaxPositions / wavelength - s.LowFrequencyFactor) / (s.HighFrequencyFactor - s.LowFrequencyFactor);
                    inverse[i] = (1 - smooth) * inverse[i] / s.Factor + smooth * inverse[i];
                }
            }
        }
        using var frequencies = tensor(inverse.Select(x => (float)x).ToArray());
        using var positions = TorchOps.Arange(maxPositions, ScalarType.Float32);
        using var angles = outer(positions, frequencies);
        using var doubled = cat([angles, angles], 1);
        using var cosine = doubled.cos();
        using var sine = doubled.sin();
        Cos = cosine.to(dtype, device);
        Sin = sine.to(dtype, device);
    }

    /// <summary>[positions, head_dim]</summary>
    public Tensor Cos { get; }
    public Tensor Sin { get; }

    /// <summary>The cos and sin rows of <paramref name="positions"/> [tokens], shaped to broadcast over heads; once per step.</summary>
    public (Tensor Cos, Tensor Sin) At(Tensor positions) =>
        (Cos.index_select(0, positions).unsqueeze(1), Sin.index_select(0, positions).unsqueeze(1));

    /// <summary>Rotates <paramref name="x"/> [tokens, heads, head_dim] by the angles <see cref="At"/> gave.</summary>
    public static Tensor Apply(Tensor x, (Tensor Cos, Tensor Sin) angles)
    {
        using var scope = NewDisposeScope();
        var halves = x.chunk(2, -1);
        var rotated = cat([halves[1].neg(), halves[0]], -1);
        return (x * angles.Cos).Plus(rotated * angles.Sin).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
