using ControlPlane.Requests;

namespace ControlPlane.Engine.Sampling;

/// <summary>
/// Picks the next token from one sequence's logits: greedy at temperature 0 (or top_k 1), else temperature,
/// top-k and top-p from the request's own random source, so a seed reproduces the request exactly.
/// </summary>
public static class TokenSampler
{
    public static bool IsGreedy(SamplingParameters p) => p.Temperature <= 0 || p.TopK == 1;

    public static int Sample(ReadOnlySpan<float> logits, SamplingParameters p, Random random)
    {
        if (IsGreedy(p))
            return ArgMax(logits);
        var order = new int[logits.Length];
        for (var i = 0; i < order.Length; i++)
            order[i] = i;
        var scaled = new double[logits.Length];
        for (var i = 0; i < scaled.Length; i++)
            scaled[i] = logits[i] / p.Temperature;
        Array.Sort(order, (a, b) => scaled[b].CompareTo(scaled[a]));
        var keep = p.TopK > 0 ? Math.Min(p.TopK, order.Length) : order.Length;
        var max = scaled[order[0]];
        var probabilities = new double[keep];
        var total = 0.0;
        for (var i = 0; i < keep; i++)
            total += probabilities[i] = Math.Exp(scaled[order[i]] - max);
        var cumulative = 0.0;
        var nucleus = keep;
        for (var i = 0; i < keep; i++)
        {
            cumulative += probabilities[i] / total;
            if (cumulative >= p.TopP)
            {
                nucleus = i + 1;
                break;
            }
        }
        var mass = 0.0;
        for (var i = 0; i < nucleus; i++)
            mass += probabilities[i];
        var draw = random.NextDouble() * mass;
        for (var i = 0; i < nucleus; i++)
        {
            draw -= probabilities[i];
            if (draw <= 0)
                return order[i];
        }
        return order[nucleus - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
                best = i;
        }
        return best;
    }
}
