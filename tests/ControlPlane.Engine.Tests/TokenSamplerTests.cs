using ControlPlane.Engine.Sampling;
using ControlPlane.Requests;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

public sealed class TokenSamplerTests
{
    // Probabilities 0.1, 0.2, 0.3, 0.4 at temperature 1.
    private static readonly float[] Row = [MathF.Log(0.1f), MathF.Log(0.2f), MathF.Log(0.3f), MathF.Log(0.4f)];

    [Fact]
    public void Sample_Temperature1_FollowsTheSoftmaxByInverseTransform()
    {
        // Highest first: cumulative 0.4, 0.7, 0.9, 1.0; the draw picks the first token whose cumulative mass exceeds it.
        double[] draws = [0.05, 0.39, 0.41, 0.69, 0.71, 0.89, 0.91, 0.99];
        var tokens = Sample(draws, new SamplingParameters { Temperature = 1 });
        Assert.Equal([3L, 3, 2, 2, 1, 1, 0, 0], tokens);
    }

    [Fact]
    public void Sample_TopK2_KeepsOnlyTheTwoLikeliest()
    {
        // Kept: 0.4 and 0.3, renormalised to 4/7 and 3/7, highest first.
        var tokens = Sample([0.0, 0.5, 0.56, 0.58, 0.99], new SamplingParameters { Temperature = 1, TopK = 2 });
        Assert.Equal([3L, 3, 3, 2, 2], tokens);
    }

    [Fact]
    public void Sample_TopP_KeepsTheSmallestHeadReachingIt()
    {
        // Highest first: 0.4, 0.3 (0.7 reached), so top_p 0.65 keeps two; top_p 0.3 keeps one.
        Assert.Equal([3L, 2], Sample([0.1, 0.9], new SamplingParameters { Temperature = 1, TopP = 0.65f }));
        Assert.Equal([3L, 3], Sample([0.1, 0.9], new SamplingParameters { Temperature = 1, TopP = 0.3f }));
    }

    [Fact]
    public void Sample_LowTemperature_ConcentratesOnTheMostLikely()
    {
        Assert.All(Sample([0.0, 0.5, 0.999], new SamplingParameters { Temperature = 0.01f }), t => Assert.Equal(3L, t));
    }

    [Fact]
    public void Sample_ARowsToken_DoesNotDependOnItsBatchmates()
    {
        using var logits = tensor(Row.Concat(Row).ToArray()).view(2, 4);
        var alone = Sample([0.5], new SamplingParameters { Temperature = 1 });
        var beside = TokenSampler.Sample(logits, [new SamplingParameters { Temperature = 1 }, new SamplingParameters { Temperature = 0.7f, TopK = 3, TopP = 0.8f }], [0.5, 0.5]);
        Assert.Equal(alone[0], beside[0]);
    }

    [Fact]
    public void Sample_RowsWithDifferentParameters_EachUseTheirOwn()
    {
        using var logits = tensor(Row.Concat(Row).ToArray()).view(2, 4);
        var tokens = TokenSampler.Sample(logits, [new SamplingParameters { Temperature = 1 }, new SamplingParameters { Temperature = 1, TopK = 1 }], [0.95, 0.95]);
        Assert.Equal([0L, 3], tokens);
    }

    private static long[] Sample(double[] draws, SamplingParameters parameters)
    {
        using var logits = tensor(Enumerable.Repeat(Row, draws.Length).SelectMany(r => r).ToArray()).view(draws.Length, Row.Length);
        return TokenSampler.Sample(logits, [.. Enumerable.Repeat(parameters, draws.Length)], draws);
    }
}
