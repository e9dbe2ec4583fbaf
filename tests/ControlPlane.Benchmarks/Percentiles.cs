namespace ControlPlane.Benchmarks;

/// <summary>Order statistics of a sample, by the nearest-rank method.</summary>
internal static class Percentiles
{
    public static double Of(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    public static string Summary(List<double> values, string unit)
    {
        values.Sort();
        return $"p50 {Of(values, 50):F3} {unit}, p90 {Of(values, 90):F3} {unit}, p99 {Of(values, 99):F3} {unit}, p99.9 {Of(values, 99.9):F3} {unit}, max {values[^1]:F3} {unit}";
    }
}
