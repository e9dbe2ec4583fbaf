using ControlPlane.Grains.Power;

namespace ControlPlane.Grains.Tests.Power;

public class PowerCapVotesTests
{
    [Fact]
    public void TheLowestCapHolds_AndEachDomainLiftsOnlyItsOwn()
    {
        var votes = new PowerCapVotes();

        Assert.Equal(300, votes.Set("by-model", 300));
        Assert.Equal(200, votes.Set("by-node", 200));
        Assert.Equal(200, votes.Set("by-model", 250)); // a higher cap of one domain does not lift the other's lower one
        Assert.Equal(250, votes.Set("by-node", null));
        Assert.Null(votes.Set("by-model", null));
        Assert.Null(votes.Set("never-set", null));
        Assert.Empty(votes.Caps);
    }
}
