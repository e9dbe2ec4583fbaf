using System.Diagnostics;
using System.Diagnostics.Metrics;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Migrations by reason and outcome, the stop each committed one took (suspend on the source to the destination's
/// commit: the request takes no step meanwhile), and the KV bytes moved. Recorded by the source.
/// </summary>
public static class MigrationMetrics
{
    private static readonly Meter Meter = new(EngineMetrics.MeterName);
    private static readonly Counter<long> Migrations =
        Meter.CreateCounter<long>("controlplane.migrations", "{migration}", "Live migrations of running requests, by reason and outcome");
    private static readonly Histogram<double> Stop =
        Meter.CreateHistogram<double>("controlplane.migration.stop_duration", "s", "From the suspend on the source to the commit on the destination",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] });
    private static readonly Counter<long> Bytes =
        Meter.CreateCounter<long>("controlplane.migration.bytes", "By", "KV bytes moved by migrations (staged and stopped parts)");

    public static void Record(string model, MigrationReason reason, MigrationResult result)
    {
        if (result.Outcome == MigrationOutcome.NoCandidate)
            return;
        var tags = new TagList { { "model", model }, { "reason", reason.Name() }, { "outcome", result.Outcome.ToString().ToLowerInvariant() } };
        Migrations.Add(1, tags);
        Bytes.Add(result.Bytes, new TagList { { "model", model } });
        if (result.Outcome == MigrationOutcome.Committed)
            Stop.Record(result.Stop.TotalSeconds, new TagList { { "model", model } });
    }
}
