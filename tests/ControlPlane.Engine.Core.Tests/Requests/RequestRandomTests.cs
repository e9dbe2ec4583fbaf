using ControlPlane.Engine.Core.Requests;

namespace ControlPlane.Engine.Core.Tests.Requests;

public class RequestRandomTests
{
    [Fact]
    public void NextDouble_ResumedAtItsPosition_ContinuesTheSameStream()
    {
        var whole = new RequestRandom(42);
        var expected = Enumerable.Range(0, 10).Select(_ => whole.NextDouble()).ToArray();
        var first = new RequestRandom(42);
        var head = Enumerable.Range(0, 4).Select(_ => first.NextDouble()).ToArray();
        var resumed = new RequestRandom(first.Seed, first.Draws);
        var tail = Enumerable.Range(0, 6).Select(_ => resumed.NextDouble()).ToArray();
        Assert.Equal(expected, head.Concat(tail).ToArray());
        Assert.All(expected, d => Assert.InRange(d, 0, 1 - 1e-12));
        Assert.NotEqual(expected[0], new RequestRandom(43).NextDouble());
    }
}
