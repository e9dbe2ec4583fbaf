using System.CommandLine;
using System.Globalization;
using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;
using ScottPlot;

namespace ControlPlane.LoadGen;

/// <summary>
/// The <c>simulate</c> command: the same trace readers and reports as <c>replay</c>, but the cluster is the
/// discrete-event simulator running the production policies in virtual time; several policies side by side,
/// optionally at several loads relative to the cluster's measured capacity.
/// </summary>
public static class SimulateCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Trace file (Azure CSV, BurstGPT CSV, Mooncake JSONL)", Required = true };
        var format = new Option<TraceFormat?>("--format") { Description = "Trace format; guessed from the file name when left out" };
        var instances = new Option<int>("--instances") { Description = "Simulated instances", DefaultValueFactory = _ => 64 };
        var profile = new Option<string>("--profile") { Description = "Performance profile: built-in name or JSON file", DefaultValueFactory = _ => PerformanceProfile.Default };
        var policies = new Option<string>("--policies") { Description = "Dispatch policies to compare, comma-separated", DefaultValueFactory = _ => "round-robin,least-request,least-kv-usage" };
        var queueLimit = new Option<int>("--queue-limit") { Description = "Waiting requests per instance before 429", DefaultValueFactory = _ => 256 };
        var loads = new Option<string?>("--loads") { Description = "Fractions of measured capacity to run at (Poisson arrivals), e.g. 0.5,0.8,0.95" };
        var speedup = new Option<double>("--speedup") { Description = "Divide the trace's arrival times by this", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate") { Description = "Override arrivals: Poisson at this many requests/s" };
        var maxRequests = new Option<int?>("--max-requests") { Description = "Simulate at most this many requests" };
        var duration = new Option<double?>("--duration") { Description = "Simulate requests arriving within this many seconds" };
        var sloTtft = new Option<double?>("--slo-ttft-ms") { Description = "Time-to-first-token SLO for goodput" };
        var sloTpot = new Option<double?>("--slo-tpot-ms") { Description = "Time-per-output-token SLO for goodput" };
        var output = new Option<string>("--out") { Description = "Directory for reports and plots", DefaultValueFactory = _ => "simulate-out" };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => 1 };
        var migration = new Option<string>("--migration")
        {
            Description = "Live migration (Llumnix): off, on, or both (each policy without and with it, side by side)",
            DefaultValueFactory = _ => "off",
        };
        migration.AcceptOnlyFromAmong("off", "on", "both");
        var sourceAbove = new Option<double>("--migration-source-above") { Description = "Migration: virtual usage at which an instance sheds requests", DefaultValueFactory = _ => new MigrationConfig().SourceAbove };
        var destinationBelow = new Option<double>("--migration-destination-below") { Description = "Migration: virtual usage at or below which an instance takes them", DefaultValueFactory = _ => new MigrationConfig().DestinationBelow };
        var kvBlocks = new Option<int?>("--kv-blocks")
        {
            Description = "Override the profile's KV blocks per instance (a memory-bound regime: a smaller GPU, a bigger model, longer contexts)",
        };
        var command = new Command("simulate", "Simulate a cluster on a trace in virtual time with the production policies; compare policies side by side")
        {
            trace, format, instances, profile, policies, queueLimit, loads, speedup, rate, maxRequests, duration, sloTtft, sloTpot, output, seed, migration, kvBlocks, sourceAbove, destinationBelow,
        };
        command.SetAction(parse =>
        {
            var requests = TraceFiles.Read(parse.GetValue(trace)!, parse.GetValue(format));
            var shaping = new TraceShaping
            {
                Speedup = parse.GetValue(speedup),
                Rate = parse.GetValue(rate),
                MaxRequests = parse.GetValue(maxRequests),
                Duration = parse.GetValue(duration) is { } d ? TimeSpan.FromSeconds(d) : null,
                Seed = parse.GetValue(seed),
            };
            var perf = PerformanceProfile.Load(parse.GetValue(profile)!);
            if (parse.GetValue(kvBlocks) is { } blocks)
            {
                if (blocks * perf.KvBlockSize < perf.MaxContextTokens)
                    throw new ArgumentException($"--kv-blocks {blocks} holds fewer tokens than the profile's context of {perf.MaxContextTokens}");
                perf = perf with { TotalKvBlocks = blocks, Name = $"{perf.Name} with {blocks} KV blocks" };
            }
            var names = parse.GetValue(policies)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var name in names)
            {
                var errors = DispatchPolicies.Validate(new DispatchConfig { Policy = name }, "--policies");
                if (errors.Count > 0)
                    throw new ArgumentException(errors[0]);
            }
            var slo = new Slo(parse.GetValue(sloTtft), parse.GetValue(sloTpot));
            var count = parse.GetValue(instances);
            var seedValue = parse.GetValue(seed);
            var outDir = parse.GetValue(output)!;
            var name0 = Path.GetFileName(parse.GetValue(trace)!);

            var runs = new List<(string Load, double Rate, IReadOnlyList<TraceRequest> Trace)>();
            if (parse.GetValue(loads) is { } loadList)
            {
                var capacity = SimulationRun.Capacity(requests, count, perf, seedValue);
                Console.WriteLine(FormattableString.Invariant($"Measured capacity: {capacity:0.0} requests/s for {count} instances of {perf.Name} on {name0}'s lengths"));
                foreach (var load in loadList.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)))
                {
                    var shaped = (shaping with { Rate = load * capacity }).Apply(requests);
                    runs.Add((FormattableString.Invariant($"{load:P0}"), load * capacity, shaped));
                }
            }
            else
            {
                var shaped = shaping.Apply(requests);
                runs.Add(("as traced", shaped.Count / Math.Max(shaped[^1].ArrivalMs / 1000, 1e-9), shaped));
            }

            Console.WriteLine();
            bool[] modes = parse.GetValue(migration) switch { "on" => [true], "both" => [false, true], _ => [false] };
            Console.WriteLine("| load | policy | requests/s offered | p50 TTFT ms | p99 TTFT ms | p50 TPOT ms | p99 TPOT ms | goodput req/s | met SLO | refused | preemptions | migrations | p99 stop ms | prefix hit rate | simulated s | wall s | × real time |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var (load, offered, shaped) in runs)
            {
                var curves = new List<(string Policy, double[] Ttft)>();
                foreach (var (policy, migrating) in names.SelectMany(n => modes.Select(m => (n, m))))
                {
                    var (records, result) = SimulationRun.Run(shaped, count, perf, new DispatchConfig { Policy = policy, QueueLimit = parse.GetValue(queueLimit) }, seedValue,
                        migrating ? new MigrationSimulationConfig
                        {
                            Planner = new MigrationConfig
                            {
                                MaxConcurrent = Math.Max(1, count / 2), SourceAbove = parse.GetValue(sourceAbove), DestinationBelow = parse.GetValue(destinationBelow),
                            },
                        } : null);
                    var label = migrating ? policy + "+migration" : policy;
                    var moved = result.Migration is { } m ? m.Committed : 0;
                    var stop = result.Migration is { StopMs.Count: > 0 } ms ? ms.StopMs.Order().ElementAt((int)Math.Ceiling(0.99 * ms.StopMs.Count) - 1) : double.NaN;
                    var report = ReplayReport.From($"{name0} (simulated, {count} × {perf.Name}, {label}, load {load})", "simulator", label, records, slo);
                    var dir = Path.Combine(outDir, $"{load.Replace("%", "pct", StringComparison.Ordinal).Replace(' ', '-')}-{label}");
                    ReportWriter.Write(dir, report, records);
                    curves.Add((label, records.Where(r => r.Succeeded).Select(r => r.TimeToFirstTokenMs!.Value).Order().ToArray()));
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {load} | {label} | {offered:0.0} | {report.TimeToFirstTokenMs.P50:0.0} | {report.TimeToFirstTokenMs.P99:0.0} | {report.TimePerOutputTokenMs.P50:0.0} | {report.TimePerOutputTokenMs.P99:0.0} | {report.Goodput:0.00} | {report.MetSlo}/{report.Sent} | {report.Failed} | {result.Preemptions} | {moved} | {stop:0.0} | {result.PrefixHitRate:P1} | {result.VirtualMs / 1000:0} | {result.WallTime.TotalSeconds:0.0} | {result.Speed:0} |"));
                }
                ComparePlot(Path.Combine(outDir, $"compare-ttft-{load.Replace("%", "pct", StringComparison.Ordinal).Replace(' ', '-')}.png"), $"TTFT CDF at load {load}", curves);
            }
            Console.WriteLine();
            Console.WriteLine($"Reports and plots in {Path.GetFullPath(outDir)}");
            return 0;
        });
        return command;
    }

    private static void ComparePlot(string path, string title, List<(string Policy, double[] Ttft)> curves)
    {
        var plot = new Plot();
        foreach (var (policy, ttft) in curves.Where(c => c.Ttft.Length > 0))
            plot.Add.ScatterLine(ttft, ttft.Select((_, i) => (i + 1.0) / ttft.Length).ToArray()).LegendText = policy;
        plot.Axes.SetupMultiplierNotation(plot.Axes.Bottom);
        plot.ShowLegend();
        plot.Title(title);
        plot.XLabel("time to first token (ms)");
        plot.YLabel("fraction of requests");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        plot.SavePng(path, 900, 500);
    }
}
