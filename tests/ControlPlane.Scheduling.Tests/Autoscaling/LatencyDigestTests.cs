using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Tests.Autoscaling;

public class LatencyDigestTests
{
    [Fact]
    public void Percentile_IsWithinTenPercentOfTheExactOne()
    {
        var random = new Random(7);
        var samples = Enumerable.Range(0, 5000).Select(_ => Math.Exp(random.NextDouble() * 9)).ToArray(); // 1 ms to 8 s
        var digest = LatencyDigest.Of(samples);
        var sorted = samples.Order().ToArray();

        foreach (var q in new[] { 0.5, 0.9, 0.99 })
        {
            var exact = sorted[(int)Math.Ceiling(q * sorted.Length) - 1];
            Assert.InRange(digest.Percentile(q)!.Value, exact * 0.9, exact * 1.1);
        }
    }

    [Fact]
    public void Merge_OfTwoGatewaysDigests_IsTheDigestOfAllTheirSamples()
    {
        double[] a = [3, 40, 41, 500], b = [7, 7, 9000, 2_000_000];

        Assert.Equal(LatencyDigest.Of([.. a, .. b]).Counts, LatencyDigest.Of(a).Merge(LatencyDigest.Of(b)).Counts);
        Assert.Equal(8, LatencyDigest.Of(a).Merge(LatencyDigest.Of(b)).Count);
    }

    [Fact]
    public void Percentile_OfNothing_IsNull_AndAboveTheLastBound_IsTheLastBound()
    {
        Assert.Null(LatencyDigest.Empty.Percentile(0.9));
        Assert.Equal(LatencyDigest.BoundsMs[^1], LatencyDigest.Of([1e9]).Percentile(0.9));
    }
}
