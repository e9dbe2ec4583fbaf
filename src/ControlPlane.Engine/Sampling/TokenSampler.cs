using ControlPlane.Engine.Model;
using ControlPlane.Requests;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Sampling;

/// <summary>
/// Picks next tokens for a whole batch where the logits are (the GPU, or the CPU): greedy at temperature 0 (or
/// top_k 1), else temperature, top-k and top-p, by inverse transform of one uniform draw per row that the
/// caller takes from the request's own random source, so a seed reproduces the request whatever its batch.
/// One small read-back per step, however many rows sample.
/// </summary>
public static class TokenSampler
{
    /// <summary>
    /// Samples one token per row of <paramref name="logits"/> [rows, vocabulary] (float32) with that row's
    /// <paramref name="parameters"/> and uniform <paramref name="draws"/> in [0, 1).
    /// </summary>
    public static long[] Sample(Tensor logits, IReadOnlyList<SamplingParameters> parameters, double[] draws)
    {
        var rows = parameters.Count;
        if (rows == 0)
            return [];
        using var scope = NewDisposeScope();
        var device = logits.device;
        var vocabulary = logits.shape[^1];
        var temperatures = tensor(parameters.Select(p => p.Temperature).ToArray(), device: device).unsqueeze(1);
        var scaled = logits / temperatures;
        // Highest first (for every row, so a row's token never depends on its batchmates' parameters); keep
        // the top k, then the smallest head whose mass reaches top p.
        var sorted = scaled.sort(-1, descending: true);
        var probabilities = sorted.Values.Minus(sorted.Values.narrow(1, 0, 1)).exp();
        if (parameters.Any(p => p.TopK > 0 || p.TopP < 1))
        {
            var positions = TorchOps.Arange(vocabulary, ScalarType.Int64, device).unsqueeze(0);
            var topK = tensor(parameters.Select(p => p.TopK > 0 ? (long)p.TopK : vocabulary).ToArray(), device: device).unsqueeze(1);
            probabilities = probabilities * positions.lt(topK);
            var normalised = probabilities / probabilities.sum(-1, keepdim: true);
            var before = normalised.cumsum(-1).Minus(normalised);
            var topP = tensor(parameters.Select(p => p.TopP >= 1 ? 2f : p.TopP).ToArray(), device: device).unsqueeze(1);
            probabilities = probabilities * before.lt(topP);
        }
        // The first token whose cumulative mass exceeds the draw's share of the kept mass (never one of zero mass).
        var cdf = probabilities.cumsum(-1);
        var target = tensor(draws, device: device).to(ScalarType.Float32).unsqueeze(1) * cdf.narrow(1, vocabulary - 1, 1);
        // A Scalar held until the end of the call: a temporary one may be finalized while the native op reads it.
        using var lastToken = (TorchSharp.Scalar)(vocabulary - 1);
        var position = cdf.le(target).sum(-1).clamp_max(lastToken);
        var tokens = sorted.Indices.gather(1, position.unsqueeze(1)).squeeze(1);
        using var host = tokens.cpu();
        return host.data<long>().ToArray();
    }
}
