using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Simulate;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.LoadGen.Tests.Simulate;

/// <summary>
/// The built-in served profiles predict the served runs they were fitted to: the simulator, on the same 400 Azure
/// conversation requests at 2× as serving.sh replayed through the gateway, one instance, gives TTFT and TPOT p50/p99
/// within the 15 % of what the gateway measured (docs/gpu-runs/…/serving.md). A profile changed alone fails here.
/// </summary>
public class ServedProfileTests
{
    [Theory]
    // The H200 run of 2026-12-07 (docs/gpu-runs/2026-12-07-h200/serving.md): TTFT p50 / p99, TPOT p50 / p99 in ms.
    [InlineData("llama-3-8b-h200-torchsharp-served", 38.6, 210.4, 9.0, 15.2)]
    // The H100 run of 2026-12-06 (docs/gpu-runs/2026-12-06c-serving).
    [InlineData("llama-3-8b-h100-torchsharp-served", 41.3, 212.7, 12.2, 18.6)]
    // The H100 runs of 2026-12-07 at the later defaults, with the same profile: before the pinned input staging
    // (docs/gpu-runs/2026-12-07-h100-serving) and after it (docs/gpu-runs/2026-12-07-h100-pinned/serving).
    [InlineData("llama-3-8b-h100-torchsharp-served", 41.6, 219.3, 11.6, 18.3)]
    [InlineData("llama-3-8b-h100-torchsharp-served", 41.3, 211.8, 11.5, 18.9)]
    public void ServedProfile_OnTheServedRequests_PredictsTheGatewaysLatencies(string name, double ttftP50, double ttftP99, double tpotP50, double tpotP99)
    {
        var profile = PerformanceProfile.Load(name);
        var trace = new TraceShaping { Speedup = 2, MaxRequests = 400 }.Apply(TraceFiles.Read(Bundled.AzureConversation, TraceFormat.Azure));
        var (records, _) = SimulationRun.Run(trace, 1, profile, new DispatchConfig { Policy = "least-kv-usage" }, seed: 1);
        var report = ReplayReport.From("azure-conv", "simulator", "llama-3-8b", records, new Slo(1000, 50));

        Assert.Equal(400, report.Succeeded);
        Assert.Equal(400, report.MetSlo);
        AssertWithin(ttftP50, report.TimeToFirstTokenMs.P50, "TTFT p50");
        AssertWithin(ttftP99, report.TimeToFirstTokenMs.P99, "TTFT p99");
        AssertWithin(tpotP50, report.TimePerOutputTokenMs.P50, "TPOT p50");
        AssertWithin(tpotP99, report.TimePerOutputTokenMs.P99, "TPOT p99");
    }

    private static void AssertWithin(double served, double simulated, string figure) =>
        Assert.True(Math.Abs(simulated / served - 1) <= 0.15, $"{figure}: simulated {simulated:F1} ms against {served:F1} ms served");
}
