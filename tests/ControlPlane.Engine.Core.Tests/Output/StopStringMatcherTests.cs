using ControlPlane.Engine.Core.Output;

namespace ControlPlane.Engine.Core.Tests.Output;

public class StopStringMatcherTests
{
    [Fact]
    public void Append_StopSplitAcrossTokens_HoldsBackThenCuts()
    {
        var matcher = new StopStringMatcher(["END"]);
        Assert.Equal("hello ", matcher.Append("hello E"));
        Assert.Equal("", matcher.Append("N"));
        Assert.Equal("", matcher.Append("D and more"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Append_PartialMatchThatFails_ReleasesHeldText()
    {
        var matcher = new StopStringMatcher(["END"]);
        Assert.Equal("a ", matcher.Append("a E"));
        Assert.Equal("Ex", matcher.Append("x"));
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void Flush_AtLengthLimit_ReturnsHeldTail()
    {
        var matcher = new StopStringMatcher(["###"]);
        Assert.Equal("x", matcher.Append("x##"));
        Assert.Equal("##", matcher.Flush());
    }

    [Fact]
    public void Append_EarliestOfSeveralStops_Wins()
    {
        var matcher = new StopStringMatcher(["zz", "b"]);
        Assert.Equal("a", matcher.Append("abzz"));
    }
}
