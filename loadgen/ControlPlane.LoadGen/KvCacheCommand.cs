using System.CommandLine;
using System.Globalization;
using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen;

/// <summary>
/// The <c>kvcache</c> command: the distributed KV cache in the simulator on a trace with named prefix blocks (Mooncake's),
/// side by side: each instance's own GPU cache with load-only routing (the local baseline), the cluster's prefix index
/// with prefix-aware routing, and that plus host-memory tiers and peer fetch. Prompt-token hit rate by tier against the
/// trace's ideal (an unbounded cache), TTFT and goodput, per cluster size.
/// </summary>
public static class KvCacheCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Trace with prefix block ids (Mooncake JSONL)", Required = true };
        var instances = new Option<string>("--instances") { Description = "Cluster sizes, comma-separated", DefaultValueFactory = _ => "16,64" };
        var profile = new Option<string>("--profile") { Description = "Performance profile (a long-context one for Mooncake)", DefaultValueFactory = _ => "llama-3.1-8b-h200-128k" };
        var hostGb = new Option<double>("--host-gb") { Description = "Host-memory KV tier per instance, GB (a DGX H200: 2 TB for 8 GPUs)", DefaultValueFactory = _ => 256 };
        var peerGbps = new Option<double>("--peer-gbps") { Description = "KV data path between instances, GB/s", DefaultValueFactory = _ => new KvFetchConfig().BytesPerSecond / 1e9 };
        var speedup = new Option<double>("--speedup") { Description = "Divide the trace's arrival times by this", DefaultValueFactory = _ => 1 };
        var maxRequests = new Option<int?>("--max-requests") { Description = "Simulate at most this many requests" };
        var sloTtft = new Option<double>("--slo-ttft-ms") { Description = "Time-to-first-token SLO for goodput", DefaultValueFactory = _ => 5000 };
        var sloTpot = new Option<double>("--slo-tpot-ms") { Description = "Time-per-output-token SLO for goodput", DefaultValueFactory = _ => 100 };
        var modes = new Option<string>("--modes") { Description = "Configurations: local, global, global+host, global+host+peer", DefaultValueFactory = _ => "local,global,global+host+peer" };
        var output = new Option<string>("--out") { Description = "Directory for reports", DefaultValueFactory = _ => "kvcache-out" };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => 1 };
        var command = new Command("kvcache", "Simulate the distributed KV cache on a trace with prefix blocks: local caches, global index, host tier and peer fetch side by side")
        {
            trace, instances, profile, hostGb, peerGbps, speedup, maxRequests, sloTtft, sloTpot, modes, output, seed,
        };
        command.SetAction(parse =>
        {
            var requests = new TraceShaping { Speedup = parse.GetValue(speedup), MaxRequests = parse.GetValue(maxRequests), Seed = parse.GetValue(seed) }
                .Apply(TraceFiles.Read(parse.GetValue(trace)!, null));
            if (requests.All(r => r.HashIds is null))
                throw new ArgumentException("--trace has no prefix block ids (hash_ids): nothing to cache");
            var perf = PerformanceProfile.Load(parse.GetValue(profile)!);
            if (perf.KvBytesPerToken <= 0)
                throw new ArgumentException($"--profile '{perf.Name}' has no kvBytesPerToken: transfers cannot be priced");
            var hostBlocks = (int)Math.Min(int.MaxValue, parse.GetValue(hostGb) * 1e9 / perf.KvBytesPerBlock);
            var fetch = new KvFetchConfig { BytesPerSecond = parse.GetValue(peerGbps) * 1e9 };
            var slo = new Slo(parse.GetValue(sloTtft), parse.GetValue(sloTpot));
            var names = parse.GetValue(modes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var ideal = IdealHitRate(requests, perf.KvBlockSize);
            var outDir = parse.GetValue(output)!;
            Console.WriteLine(FormattableString.Invariant(
                $"{requests.Count} requests of {Path.GetFileName(parse.GetValue(trace))}; {perf.Name}; host tier {parse.GetValue(hostGb):0} GB ({hostBlocks} blocks) per instance; peer path {fetch.BytesPerSecond / 1e9:0.#} GB/s; ideal (unbounded cache) hit rate {ideal:P1}"));
            Console.WriteLine();
            Console.WriteLine("| instances | configuration | policy | hit rate | GPU | host | peer | × local | of ideal | p50 TTFT ms | p99 TTFT ms | p50 TPOT ms | p99 TPOT ms | goodput req/s | met SLO | preemptions | wall s |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var count in parse.GetValue(instances)!.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)))
            {
                double? local = null;
                foreach (var mode in names)
                {
                    var (policy, cache) = Configuration(mode, hostBlocks, fetch);
                    var (records, result) = SimulationRun.Run(requests, count, perf, new DispatchConfig { Policy = policy, QueueLimit = int.MaxValue }, parse.GetValue(seed), kvCache: cache);
                    var report = ReplayReport.From($"{Path.GetFileName(parse.GetValue(trace))} (simulated, {count} × {perf.Name}, {mode})", "simulator", policy, records, slo);
                    ReportWriter.Write(Path.Combine(outDir, $"{count}-{mode.Replace('+', '-')}"), report, records);
                    var rate = result.PrefixHitRate;
                    local ??= mode == "local" ? rate : null;
                    var (gpu, host, peer) = result.HitRateByTier;
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {count} | {mode} | {policy} | {rate:P1} | {gpu:P1} | {host:P1} | {peer:P1} | {(local is { } l && l > 0 ? (rate / l).ToString("0.00", CultureInfo.InvariantCulture) : "—")} | {rate / ideal:P0} | {report.TimeToFirstTokenMs.P50:0} | {report.TimeToFirstTokenMs.P99:0} | {report.TimePerOutputTokenMs.P50:0.0} | {report.TimePerOutputTokenMs.P99:0.0} | {report.Goodput:0.00} | {report.MetSlo}/{report.Sent} | {result.Preemptions} | {result.WallTime.TotalSeconds:0} |"));
                }
            }
            Console.WriteLine();
            Console.WriteLine($"Reports in {Path.GetFullPath(outDir)}");
            return 0;
        });
        return command;
    }

    private static (string Policy, KvCacheSimulationConfig? Cache) Configuration(string mode, int hostBlocks, KvFetchConfig fetch) => mode switch
    {
        "local" => ("least-kv-usage", null),
        "local+host" => ("least-kv-usage", new KvCacheSimulationConfig { GlobalIndex = false, HostTierBlocks = hostBlocks }),
        "global" => ("prefix-aware", new KvCacheSimulationConfig()),
        "global+host" => ("prefix-aware", new KvCacheSimulationConfig { HostTierBlocks = hostBlocks }),
        "global+host+peer" => ("prefix-aware", new KvCacheSimulationConfig { HostTierBlocks = hostBlocks, PeerFetch = fetch }),
        _ => throw new ArgumentException($"--modes '{mode}' is not a configuration; known: local, local+host, global, global+host, global+host+peer"),
    };

    /// <summary>
    /// The hit rate an unbounded cache shared by all would give: every prompt's leading blocks seen before are cached,
    /// as engine blocks, short of the prompt's last token (always computed, for the first output token).
    /// </summary>
    public static double IdealHitRate(IReadOnlyList<TraceRequest> requests, int blockSize)
    {
        var seen = new HashSet<int>();
        long prompt = 0, cached = 0;
        foreach (var r in requests.OrderBy(r => r.ArrivalMs))
        {
            prompt += r.InputTokens;
            var ids = r.HashIds ?? [];
            var lead = 0;
            while (lead < ids.Count && seen.Contains(ids[lead]))
                lead++;
            var tokens = Math.Min(lead * MooncakeTraceReader.HashBlockTokens, r.InputTokens - 1);
            cached += tokens / blockSize * blockSize;
            foreach (var id in ids)
                seen.Add(id);
        }
        return prompt == 0 ? 0 : (double)cached / prompt;
    }
}
