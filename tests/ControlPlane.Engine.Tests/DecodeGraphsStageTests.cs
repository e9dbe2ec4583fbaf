using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Tests;

/// <summary>A decode graph's inputs as the step's host code writes them (the layout the captured graph reads).</summary>
public sealed class DecodeGraphsStageTests
{
    [Fact]
    public void Stage_TwoRowsInABucketOfFour_RealRowsAsGivenPaddingRowsDecodeIntoTheScratchBlock()
    {
        const int bucket = 4, blocks = 4, scratch = 9, blockSize = 16;
        var host = new long[bucket * (4 + blocks)];
        Array.Fill(host, -1);

        DecodeGraphs.Stage(bucket, blocks, scratch, blockSize, [11, 12], [100, 35], [1604, 563], [101, 36], [[3, 5, 7, 100], [2, 6]], host);

        long[] expected =
        [
            11, 12, 0, 0,                          // tokens
            100, 35, 0, 0,                         // positions
            1604, 563, scratch * blockSize, scratch * blockSize, // slots: padding rows write into the scratch block
            101, 36, 1, 1,                         // lengths: padding rows attend over one token
            3, 5, 7, 100,                          // row 0's block table
            2, 6, scratch, scratch,                // row 1's, padded with the scratch block
            scratch, scratch, scratch, scratch,    // padding rows
            scratch, scratch, scratch, scratch,
        ];
        Assert.True(expected.SequenceEqual(host), $"expected [{string.Join(", ", expected)}], got [{string.Join(", ", host)}]");
    }
}
