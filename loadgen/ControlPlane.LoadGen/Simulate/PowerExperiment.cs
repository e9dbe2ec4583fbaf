using ControlPlane.LoadGen.Traces;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Power;
using ControlPlane.Simulation.Cluster;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen.Simulate;

/// <summary>
/// POLCA's question in the simulator: a power domain provisioned for the uncapped peak of <c>N</c> GPUs; how
/// many more GPUs fit under it when the controller caps the least important work first? Each cluster size is
/// run twice on the same arrivals (the load grows with the cluster): uncapped, and under the budget with the
/// controller; SLO misses by class, budget breaches, brakes and energy per output token side by side.
/// </summary>
public static class PowerExperiment
{
    public sealed record Row(int Instances, bool Controlled, double MissInteractive, double MissBatch, int Breaches, int Brakes,
        double PeakShareOfBudget, double JoulesPerToken, int CappedPeriods, int Periods);

    public static IReadOnlyList<Row> Run(IReadOnlyList<TraceRequest> trace, PerformanceProfile profile, int baseInstances,
        IReadOnlyList<double> extras, double load, double batchShare, double sloTtftMs, double sloTpotMs, PowerControllerConfig controller, int seed, string policy = "power-aware")
    {
        var power = profile.Power ?? throw new ArgumentException($"profile '{profile.Name}' has no power model");
        var budget = baseInstances * power.MaxWatts;
        var perInstance = SimulationRun.Capacity(trace, baseInstances, profile, seed) / baseInstances;
        var rows = new List<Row>();
        foreach (var extra in extras)
        {
            var instances = (int)Math.Round(baseInstances * (1 + extra));
            var shaped = new TraceShaping { Rate = load * perInstance * instances, MaxRequests = trace.Count, Seed = seed }.Apply(trace);
            var random = new Random(seed);
            var requests = shaped.Select(r => new SimulatedRequest(r.ArrivalMs, r.InputTokens, Math.Max(1, r.OutputTokens), null,
                random.NextDouble() < batchShare ? ServiceClass.Batch : ServiceClass.Interactive)).ToArray();
            foreach (var controlled in new[] { false, true })
            {
                var result = new ClusterSimulator(new ClusterSimulationConfig
                {
                    Instances = instances,
                    Profile = profile,
                    Dispatch = new DispatchConfig { Policy = policy, QueueLimit = int.MaxValue },
                    Seed = seed,
                    Power = new PowerSimulationConfig { BudgetWatts = budget, Controller = controlled ? controller : null },
                }).Run(requests);
                var report = result.Power!;
                var tokens = result.Outcomes.Sum(o => (long)o.OutputTokens);
                rows.Add(new Row(instances, controlled, Miss(result, requests, ServiceClass.Interactive, sloTtftMs, sloTpotMs),
                    Miss(result, requests, ServiceClass.Batch, sloTtftMs * 10, sloTpotMs * 2), report.Breaches, report.Brakes,
                    report.PeakPeriodWatts / budget, report.EnergyJoules / Math.Max(1, tokens), report.CappedPeriods, report.Periods));
            }
        }
        return rows;
    }

    /// <summary>The share of a class's requests that failed or missed the TTFT or TPOT target.</summary>
    private static double Miss(SimulationResult result, SimulatedRequest[] requests, ServiceClass serviceClass, double ttftMs, double tpotMs)
    {
        var mine = result.Outcomes.Where(o => requests[o.Index].Class == serviceClass).ToArray();
        var missed = mine.Count(o => o.Error is not null || o.FirstTokenMs - o.ArrivalMs > ttftMs
            || (o.OutputTokens > 1 && (o.EndMs - o.FirstTokenMs!.Value) / (o.OutputTokens - 1) > tpotMs));
        return mine.Length == 0 ? 0 : (double)missed / mine.Length;
    }
}
