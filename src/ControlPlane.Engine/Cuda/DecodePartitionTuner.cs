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
    /// fastest of <see cref="CudaKernels.PartitionCandidates"/> on layer 0's cache over the length profiles of
    /// <see cref="LengthProfiles"/> (by default one: lengths from three quarters of the width down to a quarter; with
    /// <see cref="CudaKernels.PartitionProfiles"/> also every row just over half the width, the shortest longest table the
    /// graph serves, and every row at the width, each timed on the GPU's clock instead of the host's), each candidate's
    /// time the best of three rounds, chosen by <see cref="Pick"/>; the rule's size (<see cref="CudaKernels.PartitionTokens"/>)
    /// unless another is at least 3 % faster.
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
        var profiles = LengthProfiles(batch, capacity, kernels.PartitionProfiles).Select(p => tensor(p, device: device)).ToArray();
        var q = randn([batch, heads, cache.HeadDim], dtype, device);
        var best = new double[candidates.Count, profiles.Length];
        for (var c = 0; c < candidates.Count; c++)
            for (var p = 0; p < profiles.Length; p++)
                best[c, p] = double.MaxValue;
        for (var round = 0; round < Rounds; round++)
        {
            for (var p = 0; p < profiles.Length; p++)
            {
                var lengths = profiles[p];
                var calls = candidates.Select(tokens => (Action)(() => Call(q, tables, lengths, tokens, (capacity + tokens - 1) / tokens))).ToArray();
                var times = kernels.PartitionProfiles ? GpuTimes(calls) : HostTimes(calls);
                for (var c = 0; c < candidates.Count; c++)
                    if (!double.IsNaN(times[c]))
                        best[c, p] = Math.Min(best[c, p], times[c]);
            }
        }
        var ruleTokens = kernels.PartitionTokens(batch, capacity);
        var rule = Enumerable.Range(0, candidates.Count).FirstOrDefault(i => candidates[i] == ruleTokens, -1);
        return candidates[Pick(best, rule)];
    }

    /// <summary>
    /// The sequences' lengths (tokens) a candidate is timed at, for <paramref name="batch"/> rows of up to
    /// <paramref name="capacity"/> tokens: the spread (three quarters of the width down to a quarter), and where
    /// <paramref name="all"/>, also every row one token over half the width (a graph's shortest longest table: a step takes
    /// the next larger graph past it) and every row at the width.
    /// </summary>
    public static long[][] LengthProfiles(int batch, int capacity, bool all)
    {
        var spread = Enumerable.Range(0, batch)
            .Select(i => (long)Math.Max(1, 3 * capacity / 4 - capacity / 2 * i / Math.Max(1, batch - 1))).ToArray();
        return all
            ? [spread, Enumerable.Repeat((long)Math.Min(capacity, capacity / 2 + 1), batch).ToArray(), Enumerable.Repeat((long)capacity, batch).ToArray()]
            : [spread];
    }

    /// <summary>
    /// The candidate to take from <paramref name="times"/> [candidate, profile] (µs): the one whose times summed over the
    /// profiles, each as a multiple of that profile's fastest, are least (so no profile's scale outweighs another's); the
    /// rule's (<paramref name="rule"/>, -1 if it is no candidate) unless that one's sum is at least 3 % less.
    /// </summary>
    public static int Pick(double[,] times, int rule)
    {
        var (count, profiles) = (times.GetLength(0), times.GetLength(1));
        var score = new double[count];
        for (var p = 0; p < profiles; p++)
        {
            var fastest = Enumerable.Range(0, count).Min(c => times[c, p]);
            for (var c = 0; c < count; c++)
                score[c] += times[c, p] / fastest;
        }
        var best = Array.IndexOf(score, score.Min());
        return rule < 0 || score[best] < Margin * score[rule] ? best : rule;
    }

    /// <summary>
    /// Microseconds a call of each, on the GPU's clock: every candidate queued behind one stretch of other work, as a graph
    /// runs them (no host launch cost in the time, which at small batches is most of a host-timed call).
    /// </summary>
    private double[] GpuTimes(Action[] calls) =>
        GpuTimer.MicrosecondsEach([.. calls.Select(call => (Action<int>)(_ => call()))], dtype, device, CallsPerRound);

    /// <summary>Microseconds a call of each, on the host's clock: one call, then <see cref="CallsPerRound"/> waited for.</summary>
    private static double[] HostTimes(Action[] calls) => [.. calls.Select(call =>
    {
        call();
        cuda.synchronize();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < CallsPerRound; i++)
            call();
        cuda.synchronize();
        return Stopwatch.GetElapsedTime(started).TotalMicroseconds / CallsPerRound;
    })];

    // Each call's partial results freed with it (the caching allocator reuses them in stream order), not at the end.
    private void Call(Tensor q, Tensor tables, Tensor lengths, int tokens, int partitions)
    {
        using var scope = NewDisposeScope();
        kernels.PagedDecode(q, cache.Keys[0], cache.Values[0], tables, lengths, tokens, partitions);
    }
}
