using System.CommandLine;
using System.Globalization;
using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen;

/// <summary>
/// The <c>disaggregation</c> command: prefill/decode disaggregation in the simulator on a trace, the same GPUs three
/// ways side by side (Splitwise's and DistServe's comparison): colocated (every instance mixed), a static split (a
/// fixed prefill pool), and adaptive roles (the pool balancer moves instances between the pools, draining them by
/// migration). At each load: latency, goodput and SLO attainment; then, per mode, the highest request rate that
/// still meets both SLOs for 90% of requests.
/// </summary>
public static class DisaggregationCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Trace file (Azure CSV, BurstGPT CSV, Mooncake JSONL)", Required = true };
        var instances = new Option<int>("--instances") { Description = "Simulated instances (GPUs), the same in every mode", DefaultValueFactory = _ => 16 };
        var prefill = new Option<int?>("--prefill-instances") { Description = "Prefill instances of the static split (and the adaptive start); a quarter by default" };
        var profile = new Option<string>("--profile") { Description = "Performance profile: built-in name or JSON file", DefaultValueFactory = _ => PerformanceProfile.Default };
        var policy = new Option<string>("--policy") { Description = "Dispatch policy (where a request decodes)", DefaultValueFactory = _ => "least-kv-usage" };
        var loads = new Option<string>("--loads") { Description = "Fractions of the colocated cluster's measured capacity to run at", DefaultValueFactory = _ => "0.5,0.8,0.95" };
        var maxRequests = new Option<int>("--max-requests") { Description = "Requests per run", DefaultValueFactory = _ => 4000 };
        var sloTtft = new Option<double>("--slo-ttft-ms") { Description = "Time-to-first-token SLO", DefaultValueFactory = _ => 2000 };
        var sloTpot = new Option<double>("--slo-tpot-ms") { Description = "Time-per-output-token SLO", DefaultValueFactory = _ => 100 };
        var minPrompt = new Option<int>("--min-prompt") { Description = "Prompt tokens from which a request is split", DefaultValueFactory = _ => new DisaggregationConfig().MinPromptTokens };
        var queueLimit = new Option<int>("--prefill-queue-limit")
        {
            Description = "Queued prompt tokens past which a prefill instance takes no more splits (the prompt then runs where it decodes)",
            DefaultValueFactory = _ => new DisaggregationConfig().MaxQueuedPromptTokens,
        };
        var bandwidth = new Option<double>("--bandwidth-gbps") { Description = "KV data path bandwidth out of a prefill instance, GB/s", DefaultValueFactory = _ => new DisaggregationSimulationConfig().BandwidthGBps };
        var modes = new Option<string>("--modes") { Description = "Modes to compare: colocated, static, adaptive", DefaultValueFactory = _ => "colocated,static,adaptive" };
        var search = new Option<bool>("--max-rate") { Description = "Also search each mode's highest rate at 90% SLO attainment (bisection, 7 runs a mode)", DefaultValueFactory = _ => true };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => 1 };
        var command = new Command("disaggregation", "Simulate prefill/decode disaggregation on a trace: colocated, static split and adaptive roles side by side")
        {
            trace, instances, prefill, profile, policy, loads, maxRequests, sloTtft, sloTpot, minPrompt, queueLimit, bandwidth, modes, search, seed,
        };
        command.SetAction(parse =>
        {
            var requests = TraceFiles.Read(parse.GetValue(trace)!, null);
            var perf = PerformanceProfile.Load(parse.GetValue(profile)!);
            var count = parse.GetValue(instances);
            var prefillCount = parse.GetValue(prefill) ?? Math.Max(1, count / 4);
            if (count < 2 || prefillCount < 1 || prefillCount >= count)
                throw new ArgumentException($"--prefill-instances {prefillCount} must leave at least one of the {count} --instances to decode");
            var seedValue = parse.GetValue(seed);
            var max = parse.GetValue(maxRequests);
            var slo = new Slo(parse.GetValue(sloTtft), parse.GetValue(sloTpot));
            var dispatch = new DispatchConfig { Policy = parse.GetValue(policy)!, QueueLimit = int.MaxValue };
            var dispatchErrors = DispatchPolicies.Validate(dispatch, "--policy");
            if (dispatchErrors.Count > 0)
                throw new ArgumentException(dispatchErrors[0]);
            var decider = new DisaggregationConfig { MinPromptTokens = parse.GetValue(minPrompt), MaxQueuedPromptTokens = parse.GetValue(queueLimit) };
            var bw = parse.GetValue(bandwidth);
            var chosen = parse.GetValue(modes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var m in chosen.Where(m => m is not ("colocated" or "static" or "adaptive")))
                throw new ArgumentException($"--modes: '{m}' is not colocated, static or adaptive");
            var name = Path.GetFileName(parse.GetValue(trace)!);
            var sample = new TraceShaping { MaxRequests = max, Seed = seedValue }.Apply(requests);
            var capacity = SimulationRun.Capacity(sample, count, perf, seedValue);
            Console.WriteLine(FormattableString.Invariant(
                $"{name}: {sample.Count} requests, mean prompt {sample.Average(r => r.InputTokens):0} tokens, mean output {sample.Average(r => r.OutputTokens):0}; {count} × {perf.Name}; colocated capacity {capacity:0.0} requests/s"));
            Console.WriteLine(FormattableString.Invariant(
                $"static split: {prefillCount} prefill + {count - prefillCount} decode; split from {decider.MinPromptTokens} prompt tokens, up to {decider.MaxQueuedPromptTokens} queued on a prefill instance; KV path {bw} GB/s; SLOs TTFT {slo.TimeToFirstTokenMs} ms, TPOT {slo.TimePerOutputTokenMs} ms"));
            Console.WriteLine();
            Console.WriteLine("| load | mode | requests/s | p50 TTFT ms | p99 TTFT ms | p50 TPOT ms | p99 TPOT ms | goodput req/s | SLO attainment | split | handed off | redirected | p99 handoff stop ms | role changes | preemptions |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var load in parse.GetValue(loads)!.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)))
            {
                var shaped = new TraceShaping { MaxRequests = max, Rate = load * capacity, Seed = seedValue }.Apply(requests);
                foreach (var mode in chosen)
                {
                    var (report, result) = Run(shaped, count, perf, dispatch, seedValue, Mode(mode, prefillCount, decider, bw), slo, name);
                    var pd = result.Disaggregation;
                    var stop = pd is { HandoffMs.Count: > 0 } ? pd.HandoffMs.Order().ElementAt((int)Math.Ceiling(0.99 * pd.HandoffMs.Count) - 1) : double.NaN;
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {load:P0} | {mode} | {load * capacity:0.0} | {report.TimeToFirstTokenMs.P50:0} | {report.TimeToFirstTokenMs.P99:0} | {report.TimePerOutputTokenMs.P50:0.0} | {report.TimePerOutputTokenMs.P99:0.0} | {report.Goodput:0.00} | {(double)report.MetSlo / report.Sent:P1} | {pd?.Split ?? 0} | {pd?.HandedOff ?? 0} | {pd?.Redirected ?? 0} | {stop:0.0} | {pd?.RoleChanges ?? 0} | {result.Preemptions} |"));
                }
            }
            if (!parse.GetValue(search))
                return 0;
            Console.WriteLine();
            Console.WriteLine("| mode | highest rate at 90% SLO attainment, requests/s | × colocated |");
            Console.WriteLine("|---|---|---|");
            double? colocated = null;
            foreach (var mode in chosen)
            {
                var best = MaxRate(requests, max, count, perf, dispatch, seedValue, Mode(mode, prefillCount, decider, bw), slo, name, capacity);
                if (mode == "colocated")
                    colocated = best;
                Console.WriteLine(FormattableString.Invariant($"| {mode} | {best:0.0} | {(colocated is { } c && c > 0 ? best / c : double.NaN):0.00} |"));
            }
            return 0;
        });
        return command;
    }

    private static DisaggregationSimulationConfig? Mode(string mode, int prefill, DisaggregationConfig decider, double bandwidth) => mode switch
    {
        "static" => new DisaggregationSimulationConfig { PrefillInstances = prefill, Decider = decider, BandwidthGBps = bandwidth },
        "adaptive" => new DisaggregationSimulationConfig
        {
            PrefillInstances = prefill, BandwidthGBps = bandwidth,
            Decider = decider with { Pools = new PoolBalanceConfig { Enabled = true, Period = TimeSpan.FromSeconds(1), Cooldown = TimeSpan.FromSeconds(5) } },
        },
        _ => null,
    };

    private static (ReplayReport Report, SimulationResult Result) Run(IReadOnlyList<TraceRequest> shaped, int count, PerformanceProfile perf, DispatchConfig dispatch, int seed,
        DisaggregationSimulationConfig? pd, Slo slo, string name)
    {
        // Adaptive roles drain an instance by migration before it changes role, as the scheduler does.
        var migration = pd is { Decider.Pools.Enabled: true } ? new MigrationSimulationConfig { Planner = new MigrationConfig { MaxConcurrent = Math.Max(1, count / 2) } } : null;
        var (records, result) = SimulationRun.Run(shaped, count, perf, dispatch, seed, migration, pd);
        return (ReplayReport.From($"{name} (simulated)", "simulator", pd is null ? "colocated" : "disaggregated", records, slo), result);
    }

    /// <summary>The highest Poisson rate whose run meets both SLOs for at least 90% of requests, by bisection between 0.1 and 2 × capacity.</summary>
    private static double MaxRate(IReadOnlyList<TraceRequest> requests, int max, int count, PerformanceProfile perf, DispatchConfig dispatch, int seed,
        DisaggregationSimulationConfig? pd, Slo slo, string name, double capacity)
    {
        double lo = 0.1 * capacity, hi = 2 * capacity;
        for (var i = 0; i < 7; i++)
        {
            var mid = (lo + hi) / 2;
            var shaped = new TraceShaping { MaxRequests = max, Rate = mid, Seed = seed }.Apply(requests);
            var (report, _) = Run(shaped, count, perf, dispatch, seed, pd, slo, name);
            if ((double)report.MetSlo / report.Sent >= 0.9)
                lo = mid;
            else
                hi = mid;
        }
        return lo;
    }
}
