using System.Diagnostics;
using System.Text.Json;
using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.KvCache;
using ControlPlane.Engine.Loading;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The served run's eager steps (those with prefill, from the engine's step log, CONTROLPLANE_STEP_LOG) run again as
/// fixed shapes: the same decodes' context lengths and the same prefill chunks (length, offset), random tokens, one
/// forward pass and the greedy read-back, each composition twice (its first call and a repeat). Prints the served mean
/// beside both, so that a served step is seen to cost what its composition costs, new shape or not.
/// </summary>
public static class StepReplayBenchmark
{
    private const int BlockSize = 16;
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static IReadOnlyList<string> Run(string folder, string logPath, Device device, int maxSteps, bool prefillKernel)
    {
        var steps = File.ReadLines(logPath).Select(l => JsonSerializer.Deserialize<LoggedStep>(l, Json)!)
            .Where(s => !s.Graph && s.Prefill.Length > 0).Take(maxSteps).ToArray();
        if (steps.Length == 0)
            return ["steps: no step with prefill in the log"];
        using var weights = ModelFolder.Load(folder, device, ScalarType.BFloat16);
        var config = weights.Config;
        var kernels = CudaKernels.TryCreate(config, BlockSize, ScalarType.BFloat16, device, out var why, prefillKernel ? null : new Dictionary<string, int> { ["PREFILL"] = 0 });
        var maxContext = steps.Max(s => Math.Max(s.Decodes.DefaultIfEmpty(0).Max(), s.Prefill.Max(p => p[0] + p[1])));
        using var rope = new RotaryEmbedding(config, maxContext + 1, device, ScalarType.BFloat16);
        var forward = new LlamaForward(weights, rope, kernels);
        var blocks = steps.Max(s => s.Decodes.Sum(Blocks) + s.Prefill.Sum(p => Blocks(p[0] + p[1])));
        using var cache = new PagedKvCache(config.Layers, blocks, BlockSize, config.KvHeads, config.HeadDim, ScalarType.BFloat16, device);
        var random = new Random(5);
        var lines = new List<string> { $"steps: {steps.Length} logged steps with prefill, kernels: {(kernels is null ? why : kernels.HasPrefill ? "with the prefill kernel" : "prefill by gather + SDPA")}, cache {blocks} blocks" };
        double served = 0, first = 0, repeat = 0;
        foreach (var step in steps)
        {
            var batch = Batch(step, random, config.VocabularySize);
            var once = Time(forward, batch, cache);
            var again = Time(forward, batch, cache);
            served += step.Ms;
            first += once;
            repeat += again;
            if (lines.Count <= 12)
                lines.Add(FormattableString.Invariant($"  {step.Decodes.Length} decodes (context {step.Decodes.Sum()}) + prefill {string.Join(' ', step.Prefill.Select(p => $"{p[0]}@{p[1]}"))}: served {step.Ms:F1} ms, fixed shape {once:F1} ms first, {again:F1} ms repeat"));
        }
        var n = steps.Length;
        lines.Add(FormattableString.Invariant($"steps: mean served {served / n:F1} ms, fixed shape {first / n:F1} ms first call, {repeat / n:F1} ms repeat; served / repeat {served / repeat:F3}, first / repeat {first / repeat:F3}"));
        foreach (var line in lines)
            Console.WriteLine(line);
        return lines;

        static int Blocks(int tokens) => (tokens + BlockSize - 1) / BlockSize;
    }

    private static ForwardBatch Batch(LoggedStep step, Random random, int vocabulary)
    {
        var tokens = new List<long>();
        var positions = new List<long>();
        var slots = new List<long>();
        var sequences = new List<SequenceSlice>();
        var nextBlock = 0L;
        void Add(int count, int offset)
        {
            var context = offset + count;
            var contextSlots = new long[context];
            for (var p = 0; p < context; p++)
                contextSlots[p] = (nextBlock + p / BlockSize) * BlockSize + p % BlockSize;
            nextBlock += (context + BlockSize - 1) / BlockSize;
            sequences.Add(new SequenceSlice(tokens.Count, count, context, contextSlots, true));
            for (var j = 0; j < count; j++)
            {
                tokens.Add(random.Next(1000, Math.Min(100000, vocabulary)));
                positions.Add(offset + j);
                slots.Add(contextSlots[offset + j]);
            }
        }
        foreach (var context in step.Decodes)
            Add(1, context - 1);
        foreach (var p in step.Prefill)
            Add(p[0], p[1]);
        return new ForwardBatch([.. tokens], [.. positions], [.. slots], sequences);
    }

    private static double Time(LlamaForward forward, ForwardBatch batch, PagedKvCache cache)
    {
        cuda.synchronize();
        var started = Stopwatch.GetTimestamp();
        using (var logits = forward.Run(batch, cache))
        using (var best = logits.argmax(-1).cpu())
        {
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private sealed record LoggedStep(double Ms, bool Graph, int[] Decodes, int[][] Prefill);
}
