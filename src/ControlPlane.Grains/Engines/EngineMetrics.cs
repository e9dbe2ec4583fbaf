using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ControlPlane.Engines;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Per-step engine metrics, in the gateway's meter ("ControlPlane"): how long steps take and how many sequences
/// they carry, by kind of step (decode only, prefill only, or mixed), per instance.
/// </summary>
public static class EngineMetrics
{
    /// <summary>The meter every ControlPlane metric is in; the gateway's instruments use it too.</summary>
    public const string MeterName = "ControlPlane";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> StepDuration =
        Meter.CreateHistogram<double>("controlplane.engine.step_duration", "s", "Time of one engine step");
    private static readonly Histogram<int> StepSequences =
        Meter.CreateHistogram<int>("controlplane.engine.step_sequences", "{sequence}", "Sequences in one engine step (decoding, plus those with prefill tokens)");

    // Engines with a power actuator, observed by the power instruments (one set per process, whatever the hosts).
    private static readonly ConcurrentDictionary<EngineRunner, byte> Powered = new();

    static EngineMetrics()
    {
        Meter.CreateObservableGauge("controlplane.gpu.power_draw", () => Powered.Keys
            .Select(r => new Measurement<double>(r.LastReport.DrawWatts, Instance(r))), "W", "GPU power draw over the last load report");
        Meter.CreateObservableGauge("controlplane.gpu.power_cap", () => Powered.Keys.Where(r => r.Power!.CapWatts is not null)
            .Select(r => new Measurement<double>(r.Power!.CapWatts!.Value, Instance(r))), "W", "GPU power cap in force (absent when uncapped)");
        Meter.CreateObservableCounter("controlplane.gpu.energy", () => Powered.Keys
            .Select(r => new Measurement<double>(r.EnergyJoules, Instance(r))), "J", "GPU energy drawn since the instance started");
    }

    internal static void Observe(EngineRunner runner) => Powered.TryAdd(runner, 0);

    internal static void Forget(EngineRunner runner) => Powered.TryRemove(runner, out _);

    private static KeyValuePair<string, object?> Instance(EngineRunner runner) => new("instance", runner.Descriptor.InstanceId);

    internal static void Record(string instance, EngineStepResult step)
    {
        var kind = step.PrefillTokens == 0 ? "decode" : step.DecodeSequences == 0 ? "prefill" : "mixed";
        var tags = new KeyValuePair<string, object?>[] { new("instance", instance), new("kind", kind) };
        StepDuration.Record(step.Duration.TotalSeconds, tags);
        StepSequences.Record(step.DecodeSequences + (step.PrefillTokens > 0 ? 1 : 0), tags);
    }
}
