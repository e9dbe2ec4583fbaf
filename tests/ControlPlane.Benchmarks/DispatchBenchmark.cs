using System.Diagnostics;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;

namespace ControlPlane.Benchmarks;

/// <summary>
/// Time of one dispatch decision (filters, scorers, picker) over 1,000 instances with varied loads, per
/// policy, each decision timed on its own; the policies side by side.
/// </summary>
internal static class DispatchBenchmark
{
    public static void Run(int instances = 1000, int decisions = 200_000)
    {
        var random = new Random(11);
        var loads = Enumerable.Range(0, instances).Select(i => new InstanceLoad
        {
            InstanceId = $"gpu-{i:D4}",
            RunningRequests = random.Next(0, 64),
            WaitingRequests = random.Next(0, 8),
            UsedKvBlocks = random.Next(0, 27_000),
            TotalKvBlocks = 27_600,
            WaitingKvBlocks = random.Next(0, 500),
            KvBlockSize = 16,
            Health = i % 50 == 0 ? InstanceHealth.Draining : InstanceHealth.Ready,
        }).ToArray();
        var request = new DispatchRequest(PromptTokens: 1020, MaxTokens: 129, ServiceClass.Standard, 0);

        Console.WriteLine($"## Dispatch decision, {instances} instances, {decisions:N0} decisions per policy");
        Console.WriteLine();
        Console.WriteLine("| policy | p50 µs | p99 µs | p99.9 µs | decisions/s (one core) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var policy in DispatchPolicies.Presets.Keys)
        {
            var profile = DispatchPolicies.Create(new DispatchConfig { Policy = policy }, new Random(1));
            for (var i = 0; i < 20_000; i++)
                profile.Pick(request, loads);
            var samples = new double[decisions];
            var total = Stopwatch.StartNew();
            for (var i = 0; i < decisions; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var outcome = profile.Pick(request, loads);
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (!outcome.Succeeded)
                    throw new InvalidOperationException($"{policy} refused: {outcome.Refusal}");
            }
            total.Stop();
            Array.Sort(samples);
            Console.WriteLine($"| {policy} | {Percentiles.Of(samples, 50):F1} | {Percentiles.Of(samples, 99):F1} | {Percentiles.Of(samples, 99.9):F1} | {decisions / total.Elapsed.TotalSeconds:N0} |");
        }
        Console.WriteLine();
    }
}
