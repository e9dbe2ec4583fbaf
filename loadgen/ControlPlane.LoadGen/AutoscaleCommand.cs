using System.CommandLine;
using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen;

/// <summary>
/// The <c>autoscale</c> command: a day-shaped load (a trace's requests, their rate rising from a trough to a peak and
/// back over the "day") on a pool provisioned for the peak, against the same pool under the autoscaling planner
/// (instances start after a delay and drain by migration before they go): instance-hours and SLO attainment side by side.
/// </summary>
public static class AutoscaleCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Trace whose request lengths are replayed (Azure CSV, BurstGPT CSV, Mooncake JSONL)", Required = true };
        var instances = new Option<int>("--instances") { Description = "Instances provisioned for the peak (and the autoscaler's maximum)", DefaultValueFactory = _ => 8 };
        var profile = new Option<string>("--profile") { Description = "Performance profile", DefaultValueFactory = _ => PerformanceProfile.Default };
        var dayMinutes = new Option<double>("--day-minutes") { Description = "Length of the simulated day", DefaultValueFactory = _ => 30 };
        var peak = new Option<double>("--peak-load") { Description = "Peak rate as a fraction of the fixed pool's measured capacity", DefaultValueFactory = _ => 0.8 };
        var trough = new Option<double>("--trough") { Description = "Lowest rate as a fraction of the peak", DefaultValueFactory = _ => 0.1 };
        var startup = new Option<double>("--startup-s") { Description = "Seconds from adding an instance to its first request", DefaultValueFactory = _ => 60 };
        var target = new Option<double>("--target-usage") { Description = "Usage per instance the autoscaler sizes for", DefaultValueFactory = _ => new AutoscaleConfig().TargetUsage };
        var batch = new Option<int?>("--batch-capacity") { Description = "Requests an instance runs at its best throughput (the autoscaler's full usage); the profile's running limit by default" };
        var downWindow = new Option<double>("--scale-down-window-s") { Description = "The autoscaler's scale-down stabilization window", DefaultValueFactory = _ => new AutoscaleConfig().ScaleDownWindow.TotalSeconds };
        var lookahead = new Option<double>("--lookahead-s") { Description = "How far ahead the autoscaler projects a rising demand (0: size for now)", DefaultValueFactory = _ => 0 };
        var sloTtft = new Option<double>("--slo-ttft-ms") { Description = "Time-to-first-token SLO", DefaultValueFactory = _ => 2000 };
        var sloTpot = new Option<double>("--slo-tpot-ms") { Description = "Time-per-output-token SLO", DefaultValueFactory = _ => 100 };
        var output = new Option<string?>("--out") { Description = "CSV of the replicas over time" };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => 1 };
        var command = new Command("autoscale", "Simulate a day-shaped load: a pool provisioned for the peak against the autoscaler, instance-hours and SLO attainment")
        {
            trace, instances, profile, dayMinutes, peak, trough, startup, target, batch, downWindow, lookahead, sloTtft, sloTpot, output, seed,
        };
        command.SetAction(parse =>
        {
            var requests = TraceFiles.Read(parse.GetValue(trace)!, null);
            var perf = PerformanceProfile.Load(parse.GetValue(profile)!);
            var count = parse.GetValue(instances);
            var seedValue = parse.GetValue(seed);
            var day = parse.GetValue(dayMinutes) * 60_000;
            var low = parse.GetValue(trough);
            if (count < 1 || day <= 0 || low is < 0 or > 1)
                throw new ArgumentException("--instances must be at least 1, --day-minutes positive and --trough between 0 and 1");
            var capacity = SimulationRun.Capacity(requests, count, perf, seedValue);
            var peakRate = parse.GetValue(peak) * capacity;
            var shaped = DayShaped(requests, day, peakRate, low, seedValue);
            var slo = new Slo(parse.GetValue(sloTtft), parse.GetValue(sloTpot));
            var name = Path.GetFileName(parse.GetValue(trace)!);
            Console.WriteLine(FormattableString.Invariant(
                $"{name}: {shaped.Count} requests over a {day / 60_000:0}-minute day, rate {low * peakRate:0.0} to {peakRate:0.0} requests/s ({parse.GetValue(peak):P0} of {count} × {perf.Name}'s measured {capacity:0.0}); instances start in {parse.GetValue(startup):0} s"));
            Console.WriteLine();
            Console.WriteLine("| provisioning | instance-hours | × fixed | peak replicas | SLO attainment | p50 TTFT ms | p99 TTFT ms | p99 TPOT ms | goodput req/s | held at zero |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            var dispatch = new DispatchConfig { Policy = "least-kv-usage", QueueLimit = int.MaxValue };
            var (fixedRecords, fixedResult) = SimulationRun.Run(shaped, count, perf, dispatch, seedValue);
            var fixedHours = count * fixedResult.VirtualMs / 3_600_000;
            Row("fixed for the peak", ReplayReport.From(name, "simulator", "fixed", fixedRecords, slo), fixedHours, fixedHours, count, 0);
            var autoscale = new AutoscaleSimulationConfig
            {
                Planner = new AutoscaleConfig { Enabled = true, TargetUsage = parse.GetValue(target), BatchCapacity = parse.GetValue(batch) ?? perf.MaxRunningRequests,
                    ScaleDownWindow = TimeSpan.FromSeconds(parse.GetValue(downWindow)), Lookahead = TimeSpan.FromSeconds(parse.GetValue(lookahead)) },
                MinReplicas = 1, MaxReplicas = count, InitialReplicas = 1, StartupMs = parse.GetValue(startup) * 1000, SloTtftMs = slo.TimeToFirstTokenMs, SloTpotMs = slo.TimePerOutputTokenMs,
            };
            var migration = new MigrationSimulationConfig { Planner = new MigrationConfig { MaxConcurrent = Math.Max(1, count / 2) } };
            var (records, result) = SimulationRun.Run(shaped, count, perf, dispatch, seedValue, migration, autoscale: autoscale);
            var report = result.Autoscale!;
            Row("autoscaled", ReplayReport.From(name, "simulator", "autoscaled", records, slo), report.InstanceHours, fixedHours, report.Replicas.Max(r => r.Replicas), report.Held);
            if (parse.GetValue(output) is { } path)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                File.WriteAllLines(path, ["minute,replicas,offered_rate", .. report.Replicas.Select(r => FormattableString.Invariant(
                    $"{r.AtMs / 60_000:0.00},{r.Replicas},{Rate(r.AtMs, day, peakRate, low):0.0}"))]);
            }
            return 0;
        });
        return command;
    }

    private static void Row(string label, ReplayReport report, double hours, double fixedHours, int peakReplicas, int held) =>
        Console.WriteLine(FormattableString.Invariant(
            $"| {label} | {hours:0.00} | {hours / fixedHours:0.00} | {peakReplicas} | {(double)report.MetSlo / report.Sent:P1} | {report.TimeToFirstTokenMs.P50:0} | {report.TimeToFirstTokenMs.P99:0} | {report.TimePerOutputTokenMs.P99:0.0} | {report.Goodput:0.0} | {held} |"));

    /// <summary>Requests/s at time <paramref name="t"/>: from the trough at the day's ends to the peak at its middle.</summary>
    private static double Rate(double t, double day, double peak, double trough) => peak * (trough + (1 - trough) * (1 - Math.Cos(2 * Math.PI * t / day)) / 2);

    /// <summary>The trace's lengths, in order and cycled, at Poisson arrivals whose rate follows the day (thinning).</summary>
    private static List<TraceRequest> DayShaped(IReadOnlyList<TraceRequest> trace, double day, double peak, double trough, int seed)
    {
        var random = new Random(seed);
        var list = new List<TraceRequest>();
        var t = 0.0;
        while (true)
        {
            t += -Math.Log(1 - random.NextDouble()) / peak * 1000;
            if (t >= day)
                break;
            if (random.NextDouble() * peak > Rate(t, day, peak, trough))
                continue;
            var r = trace[list.Count % trace.Count];
            list.Add(r with { ArrivalMs = t });
        }
        return list;
    }
}
