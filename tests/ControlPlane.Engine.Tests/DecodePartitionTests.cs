using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Tests;

/// <summary>The partition sizes a decode graph's measurement at capture chooses from.</summary>
public sealed class DecodePartitionTests
{
    [Theory]
    [InlineData(16, 64, new[] { 64 })]
    [InlineData(16, 1024, new[] { 64, 96, 128, 192, 256, 384, 512, 768, 1024 })]
    [InlineData(16, 1000, new[] { 64, 96, 128, 192, 256, 384, 512, 768, 1024 })]
    [InlineData(16, 8192, new[] { 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048 })]
    [InlineData(16, 131072, new[] { 128, 192, 256, 384, 512, 768, 1024, 1536, 2048 })]
    [InlineData(32, 65536, new[] { 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096 })]
    [InlineData(48, 4096, new[] { 96, 144, 192, 288, 384, 576, 768, 1152, 1536, 2304, 3072, 4608 })]
    [InlineData(128, 300, new[] { 128, 256, 384 })]
    public void PartitionCandidates_ContextAndBlockSize_WholeBlocksWithinTheKernelsLimitsAndOneSinglePartition(int blockSize, int maxTokens, int[] expected)
    {
        var candidates = CudaKernels.PartitionCandidates(blockSize, maxTokens);

        Assert.True(expected.SequenceEqual(candidates), $"expected [{string.Join(", ", expected)}], got [{string.Join(", ", candidates)}]");
    }
}
