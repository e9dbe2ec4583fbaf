using ControlPlane.LoadGen.Traces;

namespace ControlPlane.LoadGen.Tests.Traces;

public class SyntheticTraceTests
{
    private static double[] Gaps(IReadOnlyList<TraceRequest> t) => [.. t.Zip(t.Skip(1)).Select(p => p.Second.ArrivalMs - p.First.ArrivalMs)];

    [Fact]
    public void Poisson_ManyArrivals_HaveTheRateAndUnitCoefficientOfVariation()
    {
        var gaps = Gaps(SyntheticTrace.Poisson(50, 40_000, new LengthSpec(10, 10), new LengthSpec(5, 5), seed: 3));
        Assert.Equal(20, gaps.Average(), 0.5); // 1000 ms / 50 per s
        var cv = Math.Sqrt(gaps.Select(g => (g - gaps.Average()) * (g - gaps.Average())).Average()) / gaps.Average();
        Assert.Equal(1, cv, 0.05);
    }

    [Fact]
    public void Gamma_ShapeQuarter_IsBurstierWithCoefficientOfVariationTwo()
    {
        var gaps = Gaps(SyntheticTrace.Gamma(50, 0.25, 60_000, new LengthSpec(10, 10), new LengthSpec(5, 5), seed: 4));
        Assert.Equal(20, gaps.Average(), 1.0);
        var cv = Math.Sqrt(gaps.Select(g => (g - gaps.Average()) * (g - gaps.Average())).Average()) / gaps.Average();
        Assert.Equal(2, cv, 0.15);
    }

    [Fact]
    public void Synthetic_SameSeed_IsIdentical_LengthsWithinSpec()
    {
        var a = SyntheticTrace.Poisson(10, 100, LengthSpec.Parse("100-200", "x"), LengthSpec.Parse("7", "y"), seed: 9);
        Assert.Equal(a, SyntheticTrace.Poisson(10, 100, LengthSpec.Parse("100-200", "x"), LengthSpec.Parse("7", "y"), seed: 9));
        Assert.All(a, r => Assert.InRange(r.InputTokens, 100, 200));
        Assert.All(a, r => Assert.Equal(7, r.OutputTokens));
    }

    [Fact]
    public void LengthSpec_Garbage_NamesTheOption()
    {
        var ex = Assert.Throws<ArgumentException>(() => LengthSpec.Parse("9-3", "--input-tokens"));
        Assert.Contains("--input-tokens '9-3'", ex.Message);
    }

    [Fact]
    public void Shaping_SpeedupMaxAndDuration_ApplyInOrder()
    {
        IReadOnlyList<TraceRequest> trace = [.. Enumerable.Range(0, 10).Select(i => new TraceRequest(1000 + i * 1000, 10, 10))];
        var shaped = new TraceShaping { Speedup = 2, MaxRequests = 8, Duration = TimeSpan.FromSeconds(3) }.Apply(trace);
        Assert.Equal([0, 500, 1000, 1500, 2000, 2500], shaped.Select(r => r.ArrivalMs));
        var rated = new TraceShaping { Rate = 100 }.Apply(trace);
        Assert.Equal(trace.Select(r => r.InputTokens), rated.Select(r => r.InputTokens));
        Assert.True(rated[^1].ArrivalMs < 1000, "ten Poisson arrivals at 100/s span about 90 ms");
    }
}
