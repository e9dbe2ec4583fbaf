namespace ControlPlane.LoadGen.Reports;

/// <summary>p50, p90, p99 and mean of one latency, in milliseconds (nearest-rank percentiles).</summary>
public sealed record LatencyStats(int Count, double Mean, double P50, double P90, double P99, double Max)
{
    public static LatencyStats Of(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
            return new LatencyStats(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        return new LatencyStats(sorted.Length, sorted.Average(), At(sorted, 50), At(sorted, 90), At(sorted, 99), sorted[^1]);
    }

    public static double At(double[] sorted, double percentile) =>
        sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
