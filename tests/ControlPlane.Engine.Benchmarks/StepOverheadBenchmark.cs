using System.Diagnostics;
using System.Globalization;
using ControlPlane.Engine.Core;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Models.Folders;
using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The engine's own host time a decode step, with no device: <see cref="EngineCore.ComputeStep"/> over a runner that
/// answers at once, so what is timed is what a GPU waits through between two steps (planning, the output rules, the
/// detokenizer, the outputs), by batch, after a warm-up long enough for the JIT's last tier. With a model folder's
/// tokenizer (<c>--tokenizer DIR</c>) each request's text is decoded as serving decodes it; without, the benchmarks'
/// id tokenizer (as <c>bench</c> runs).
/// </summary>
internal static class StepOverheadBenchmark
{
    public static IReadOnlyList<string> Run(string? tokenizerFolder, IReadOnlyList<int> batches, int steps, int context)
    {
        ITokenizer tokenizer = tokenizerFolder is null ? new IdTokenizer(128256) : ModelFolderInfo.Read(tokenizerFolder).LoadTokenizer();
        var name = tokenizerFolder is null ? "the benchmarks' id tokenizer (a character an id)" : $"the tokenizer of {tokenizerFolder}";
        var lines = new List<string> { $"step-overhead: {name}; context {context}; {steps} timed steps after {steps} of warm-up" };
        Console.WriteLine(lines[0]);
        foreach (var batch in batches)
        {
            var blocks = batch * ((context + 2 * steps + 64) / 16 + 2);
            using var engine = new EngineCore("m", new InstantRunner(), blocks,
                new SchedulerOptions { MaxBatchedTokens = 8192, MaxRunningRequests = Math.Max(256, batch), MaxContextTokens = context + 2 * steps + 64 },
                tokenizer);
            for (var i = 0; i < batch; i++)
            {
                engine.Add(new RequestSpec
                {
                    RequestId = $"r{i}", Model = "m", PromptTokenIds = [.. Enumerable.Range(0, context).Select(t => 300 + (t * 7 + i) % 2000)],
                    Sampling = new SamplingParameters { MaxTokens = 2 * steps + 32, Temperature = 0, IgnoreEndOfSequence = true },
                });
            }
            for (var first = 0; first < batch;)
                first += engine.ComputeStep().Outputs.Count(o => o.CompletionTokens == 1);
            for (var s = 0; s < steps; s++)
                engine.ComputeStep();
            var times = new double[steps];
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            for (var s = 0; s < steps; s++)
            {
                var started = Stopwatch.GetTimestamp();
                engine.ComputeStep();
                times[s] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }
            var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)steps;
            Array.Sort(times);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"batch {batch,4}: median {times[steps / 2],8:F1} us a step, p90 {times[steps * 9 / 10],8:F1}, mean {times.Average(),8:F1} ({times[steps / 2] / batch,6:F2} us a row); {bytes / 1024,7:F1} KiB allocated a step"));
            Console.WriteLine(lines[^1]);
        }
        return lines;
    }

    /// <summary>A runner with no model: each sampling chunk's token is the next of a cycle of plain words' ids.</summary>
    private sealed class InstantRunner : IStepRunner
    {
        private int _next;

        public string Backend => "instant";
        public KvDataLayout KvLayout { get; } = new("instant/none", "none", 1);

        public StepRun Run(StepPlan plan)
        {
            var tokens = new int[plan.Chunks.Count];
            for (var i = 0; i < tokens.Length; i++)
                tokens[i] = plan.Chunks[i].Samples ? 300 + _next++ % 2000 : -1;
            return new StepRun(tokens, TimeSpan.FromMilliseconds(5));
        }

        public ValueTask PaceAsync(TimeSpan duration, TimeSpan computed, bool idle, CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public byte[] ReadBlocks(IReadOnlyList<int> blocks) => throw new NotSupportedException();
        public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
