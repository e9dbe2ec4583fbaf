using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Tests;

/// <summary>The partition measurement's lengths and its choice among the timed candidates (the timing itself needs a GPU).</summary>
public sealed class DecodePartitionTunerTests
{
    [Fact]
    public void LengthProfiles_ByDefault_AreTheSpreadAlone_FromThreeQuartersToAQuarterOfTheWidth()
    {
        var profiles = DecodePartitionTuner.LengthProfiles(batch: 5, capacity: 4096, all: false);
        Assert.Equal([[3072, 2560, 2048, 1536, 1024]], profiles);
        Assert.Equal([[3072]], DecodePartitionTuner.LengthProfiles(batch: 1, capacity: 4096, all: false));
    }

    [Fact]
    public void LengthProfiles_All_AddEveryRowJustOverHalfTheWidth_AndEveryRowAtIt()
    {
        var profiles = DecodePartitionTuner.LengthProfiles(batch: 3, capacity: 4096, all: true);
        Assert.Equal(3, profiles.Length);
        Assert.Equal([3072, 2048, 1024], profiles[0]);
        Assert.Equal([2049, 2049, 2049], profiles[1]); // a step of 2,048 tokens and its new one: the 256-block graph
        Assert.Equal([4096, 4096, 4096], profiles[2]);
        Assert.Equal([[48, 16], [33, 33], [64, 64]], DecodePartitionTuner.LengthProfiles(batch: 2, capacity: 64, all: true));
    }

    [Fact]
    public void Pick_OneProfile_TakesTheFastest_OnlyWhereItBeatsTheRuleByThreePercent()
    {
        Assert.Equal(1, DecodePartitionTuner.Pick(new double[,] { { 100 }, { 96 }, { 99 } }, rule: 0));
        Assert.Equal(0, DecodePartitionTuner.Pick(new double[,] { { 100 }, { 98 }, { 99 } }, rule: 0)); // within the margin: the rule
        Assert.Equal(1, DecodePartitionTuner.Pick(new double[,] { { 100 }, { 98 }, { 99 } }, rule: -1)); // no rule among them
    }

    [Fact]
    public void Pick_SeveralProfiles_TakesTheLeastSlowdownSummedOverThem_NotTheFastestOfOne()
    {
        // The H200's case at batch 64 of a 4,096-token graph (µs, the first column as the spread of lengths chose before):
        // 2,048-token partitions fastest over the spread, 16 % slower than 512 with every row at 2,048 tokens.
        var times = new double[,]
        {
            { 140, 131, 290 }, // 512
            { 138, 153, 280 }, // 2,048
        };
        Assert.Equal(1, DecodePartitionTuner.Pick(new double[,] { { 140 }, { 138 } }, rule: -1));
        Assert.Equal(0, DecodePartitionTuner.Pick(times, rule: -1));
        // Each profile counts by its ratio to its own fastest: the longest lengths' larger microseconds do not outweigh.
        Assert.Equal(0, DecodePartitionTuner.Pick(new double[,] { { 10, 1000 }, { 12, 990 } }, rule: -1));
    }
}
