using System.Diagnostics;
using ControlPlane.Engine.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Picks each decode graph's attention partition size by timing the kernel at capture, once per shape, instead of a rule
/// fitted on one GPU: which size wins depends on how many blocks are resident per multiprocessor, on the memory's latency
/// and on the partials' reduce, so it moves between GPUs and kernels (on the H100 the rule's choice cost 3–10 % of the
/// tensor-core kernel's time at batch 32 and 64). Work done at start, never while serving; on with tuning PARTITION_TUNE=1.
/// </summary>
internal sealed class DecodePartitionTuner(CudaKernels kernels, PagedKvCache cache, int usableBlocks, int heads, ScalarType dtype, Device device)
{
    private const int Rounds = 2;
    private const int CallsPerRound = 8;

    /// <summary>
    /// Tokens a partition for <paramref name="batch"/> rows whose tables hold up to <paramref name="blocks"/> blocks: the
    /// fastest of <see cref="CudaKernels.PartitionCandidates"/> on layer 0's cache, with lengths from three quarters of the
    /// width down to a quarter (a graph serves steps whose longest table is over half its width), the best of two rounds.
    /// </summary>
    public int Choose(int batch, int blocks)
    {
        var capacity = blocks * cache.BlockSize;
        var candidates = CudaKernels.PartitionCandidates(cache.BlockSize, capacity);
        if (candidates.Count <= 1)
            return candidates.Count == 1 ? candidates[0] : kernels.PartitionTokens(batch, capacity);
        using var scope = NewDisposeScope();
        var table = new long[batch * blocks];
        for (var i = 0; i < table.Length; i++)
            table[i] = i % usableBlocks;
        var tables = tensor(table, device: device).view(batch, blocks);
        var lengths = tensor(Enumerable.Range(0, batch)
            .Select(i => (long)Math.Max(1, 3 * capacity / 4 - capacity / 2 * i / Math.Max(1, batch - 1))).ToArray(), device: device);
        var q = randn([batch, heads, cache.HeadDim], dtype, device);
        var best = Enumerable.Repeat(double.MaxValue, candidates.Count).ToArray();
        for (var round = 0; round < Rounds; round++)
        {
            for (var c = 0; c < candidates.Count; c++)
            {
                var tokens = candidates[c];
                var partitions = (capacity + tokens - 1) / tokens;
                Call(q, tables, lengths, tokens, partitions);
                cuda.synchronize();
                var started = Stopwatch.GetTimestamp();
                for (var call = 0; call < CallsPerRound; call++)
                    Call(q, tables, lengths, tokens, partitions);
                cuda.synchronize();
                best[c] = Math.Min(best[c], Stopwatch.GetElapsedTime(started).TotalMicroseconds / CallsPerRound);
            }
        }
        return candidates[Array.IndexOf(best, best.Min())];
    }

    // Each call's partial results freed with it (the caching allocator reuses them in stream order), not at the end.
    private void Call(Tensor q, Tensor tables, Tensor lengths, int tokens, int partitions)
    {
        using var scope = NewDisposeScope();
        kernels.PagedDecode(q, cache.Keys[0], cache.Values[0], tables, lengths, tokens, partitions);
    }
}
