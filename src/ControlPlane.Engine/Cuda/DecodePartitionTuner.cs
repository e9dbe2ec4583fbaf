using System.Diagnostics;
using ControlPlane.Engine.KvCache;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Picks each decode graph's attention partition size by timing the kernel at capture, once per shape, instead of a rule
/// fitted on one GPU: which size wins depends on how many blocks are resident per multiprocessor, on the memory's latency
/// and on the partials' reduce, so it moves between GPUs and kernels (on the H100 the rule's choice cost 3–10 % of the
/// tensor-core kernel's time at batch 32 and 64; on the H200 the measured choice took 32 × 512 from 6.14 to 5.72 ms a step).
/// Work done at start, never while serving; on by default with the tensor-core kernel, off with tuning PARTITION_TUNE=0.
/// </summary>
internal sealed class DecodePartitionTuner(CudaKernels kernels, PagedKvCache cache, int usableBlocks, int heads, ScalarType dtype, Device device)
{
    private const int Rounds = 3;
    private const int CallsPerRound = 8;

    /// <summary>How much faster than the rule's size a measured one must be to be taken: a choice by noise costs more than it gains.</summary>
    private const double Margin = 0.97;

    /// <summary>
    /// Tokens a partition for <paramref name="batch"/> rows whose tables hold up to <paramref name="blocks"/> blocks: the
    /// fastest of <see cref="CudaKernels.PartitionCandidates"/> on layer 0's cache, with lengths from three quarters of the
    /// width down to a quarter (a graph serves steps whose longest table is over half its width), each the best of three
    /// rounds; the rule's size (<see cref="CudaKernels.PartitionTokens"/>) unless another is at least 3 % faster.
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
        var fastest = Array.IndexOf(best, best.Min());
        var rule = kernels.PartitionTokens(batch, capacity);
        var ruled = Enumerable.Range(0, candidates.Count).FirstOrDefault(i => candidates[i] == rule, -1);
        return ruled < 0 || best[fastest] < Margin * best[ruled] ? candidates[fastest] : rule;
    }

    // Each call's partial results freed with it (the caching allocator reuses them in stream order), not at the end.
    private void Call(Tensor q, Tensor tables, Tensor lengths, int tokens, int partitions)
    {
        using var scope = NewDisposeScope();
        kernels.PagedDecode(q, cache.Keys[0], cache.Values[0], tables, lengths, tokens, partitions);
    }
}
