using System.Diagnostics;
using System.Globalization;
using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The decode step's input staging (<c>DecodeGraphs.Stage</c>, the engine's own loop) once a "step", with a sleep for the
/// GPU's step between calls: its time a call by phase, from the first call on. Needs no GPU. Run it at the default
/// tiering (<c>DOTNET_TC_QuickJitForLoops=1</c>, overriding this app's runtimeconfig) and as the app ships (methods with
/// loops compiled optimized at their first call) to see what the JIT's first tier costs a step.
/// </summary>
internal static class StageTieringBenchmark
{
    public static void Run(int batch, int blocks, int gpuStepMs)
    {
        var tables = Enumerable.Range(0, batch).Select(i => Enumerable.Range(i * blocks, blocks / 2 + 1).ToList()).ToList();
        long[] tokens = new long[batch], positions = new long[batch], slots = new long[batch], lengths = new long[batch];
        var host = new long[batch * (4 + blocks)];
        var calls = 0;
        Console.WriteLine(FormattableString.Invariant(
            $"stage-tiering: {batch} rows x {blocks} blocks, a {gpuStepMs} ms sleep a step; QuickJitForLoops={Environment.GetEnvironmentVariable("DOTNET_TC_QuickJitForLoops") ?? "(runtimeconfig)"}"));
        foreach (var phase in new[] { 5, 30, 60, 200, 2000 })
        {
            var best = double.MaxValue;
            var sum = 0.0;
            for (var i = 0; i < phase; i++)
            {
                var started = Stopwatch.GetTimestamp();
                DecodeGraphs.Stage(batch, blocks, 0, 16, tokens, positions, slots, lengths, tables, host);
                var microseconds = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                sum += microseconds;
                best = Math.Min(best, microseconds);
                Thread.Sleep(gpuStepMs);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"calls {calls}..{calls + phase}: mean {sum / phase:F1} us, best {best:F1} us"));
            calls += phase;
        }
    }
}
