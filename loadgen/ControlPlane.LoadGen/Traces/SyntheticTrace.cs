namespace ControlPlane.LoadGen.Traces;

/// <summary>
/// Synthetic arrivals: Poisson (exponential gaps) or Gamma (gaps with coefficient of variation 1/√shape:
/// shape below 1 is burstier than Poisson), lengths from <see cref="LengthSpec"/>s; reproducible for a seed.
/// </summary>
public static class SyntheticTrace
{
    public static IReadOnlyList<TraceRequest> Poisson(double rate, int count, LengthSpec input, LengthSpec output, int seed) =>
        Gamma(rate, 1, count, input, output, seed);

    public static IReadOnlyList<TraceRequest> Gamma(double rate, double shape, int count, LengthSpec input, LengthSpec output, int seed)
    {
        if (rate <= 0 || shape <= 0 || count < 0)
            throw new ArgumentException($"rate ({rate}) and shape ({shape}) must be positive and count ({count}) not negative");
        var random = new Random(seed);
        var requests = new List<TraceRequest>(count);
        var at = 0.0;
        for (var i = 0; i < count; i++)
        {
            requests.Add(new TraceRequest(at, input.Sample(random), output.Sample(random)));
            at += SampleGamma(random, shape, 1 / (rate * shape)) * 1000;
        }
        return requests;
    }

    /// <summary>Marsaglia and Tsang's method; shape below 1 through the boost x·U^(1/shape).</summary>
    private static double SampleGamma(Random random, double shape, double scale)
    {
        if (shape < 1)
            return SampleGamma(random, shape + 1, scale) * Math.Pow(random.NextDouble(), 1 / shape);
        var d = shape - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            var u = random.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
                return d * v * scale;
        }
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
