using System.CommandLine;
using System.Globalization;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Power;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen;

/// <summary>The <c>power</c> command: POLCA's oversubscription experiment in the simulator (see <see cref="PowerExperiment"/>).</summary>
public static class PowerCommand
{
    public static Command Create()
    {
        var trace = new Option<string>("--trace") { Description = "Trace file (Azure CSV, BurstGPT CSV, Mooncake JSONL); several, comma-separated, are mixed by arrival time", Required = true };
        var profile = new Option<string>("--profile") { Description = "Performance profile with a power model", DefaultValueFactory = _ => "llama-3-8b-h100-torchsharp" };
        var instances = new Option<int>("--instances") { Description = "GPUs the domain's budget is provisioned for (uncapped peak)", DefaultValueFactory = _ => 32 };
        var extras = new Option<string>("--extra") { Description = "Extra GPUs to try under the same budget, as fractions", DefaultValueFactory = _ => "0,0.1,0.2,0.3,0.4,0.5" };
        var load = new Option<double>("--load") { Description = "Offered load as a fraction of the cluster's measured capacity", DefaultValueFactory = _ => 0.7 };
        var batch = new Option<double>("--batch-share") { Description = "Share of requests in the batch class (the rest interactive)", DefaultValueFactory = _ => 0.3 };
        var maxRequests = new Option<int>("--max-requests") { Description = "Requests per run", DefaultValueFactory = _ => 8000 };
        var ttft = new Option<double>("--slo-ttft-ms") { Description = "Interactive TTFT target (batch: 10×)", DefaultValueFactory = _ => 1000 };
        var tpot = new Option<double>("--slo-tpot-ms") { Description = "Interactive TPOT target (batch: 2×)", DefaultValueFactory = _ => 50 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var command = new Command("power", "Power oversubscription (POLCA) in the simulator: how many more GPUs fit under a budget with priority-aware caps")
        {
            trace, profile, instances, extras, load, batch, maxRequests, ttft, tpot, seed,
        };
        command.SetAction(parse =>
        {
            var requests = TraceFiles.ReadMixed(parse.GetValue(trace)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Take(parse.GetValue(maxRequests)).ToArray();
            var perf = PerformanceProfile.Load(parse.GetValue(profile)!);
            var fractions = parse.GetValue(extras)!.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var rows = PowerExperiment.Run(requests, perf, parse.GetValue(instances), fractions, parse.GetValue(load), parse.GetValue(batch),
                parse.GetValue(ttft), parse.GetValue(tpot), new PowerControllerConfig(), parse.GetValue(seed));
            Console.WriteLine(FormattableString.Invariant($"Budget: {parse.GetValue(instances)} × {perf.Power!.MaxWatts:0} W (the uncapped peak of {parse.GetValue(instances)} GPUs); load {parse.GetValue(load):P0} of each cluster's capacity; {parse.GetValue(batch):P0} batch"));
            Console.WriteLine();
            Console.WriteLine("| GPUs | controller | interactive SLO missed | batch SLO missed | periods over budget | brakes | peak period ÷ budget | periods capped | J per output token |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var r in rows)
            {
                Console.WriteLine(FormattableString.Invariant(
                    $"| {r.Instances} | {(r.Controlled ? "POLCA" : "none")} | {r.MissInteractive:P2} | {r.MissBatch:P2} | {r.Breaches} | {r.Brakes} | {r.PeakShareOfBudget:0.000} | {r.CappedPeriods}/{r.Periods} | {r.JoulesPerToken:0.000} |"));
            }
            return 0;
        });
        return command;
    }
}
