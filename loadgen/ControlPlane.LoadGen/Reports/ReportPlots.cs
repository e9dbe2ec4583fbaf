using ControlPlane.LoadGen.Replay;
using ScottPlot;

namespace ControlPlane.LoadGen.Reports;

/// <summary>PNG plots of a replay: latency CDFs, and throughput and requests in flight over time.</summary>
public static class ReportPlots
{
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<RequestRecord> records)
    {
        Directory.CreateDirectory(directory);
        var ok = records.Where(r => r.Succeeded).ToArray();
        var files = new List<string>();
        foreach (var (name, values) in new[]
                 {
                     ("ttft", ok.Select(r => r.TimeToFirstTokenMs ?? double.NaN)),
                     ("tpot", ok.Select(r => r.TimePerOutputTokenMs ?? double.NaN)),
                     ("e2e", ok.Select(r => r.EndToEndMs)),
                 })
        {
            var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
            if (sorted.Length == 0)
                continue;
            var plot = new Plot();
            plot.Add.ScatterLine(sorted, sorted.Select((_, i) => (i + 1.0) / sorted.Length).ToArray());
            plot.Title($"CDF of {name.ToUpperInvariant()} ({sorted.Length} requests)");
            plot.XLabel("milliseconds");
            plot.YLabel("fraction of requests");
            files.Add(Save(plot, directory, $"cdf-{name}.png"));
        }
        if (records.Count > 0)
            files.Add(Timeline(directory, records));
        return files;
    }

    private static string Timeline(string directory, IReadOnlyList<RequestRecord> records)
    {
        var end = records.Max(r => r.EndMs) / 1000;
        var bins = Math.Max(1, (int)Math.Ceiling(end));
        var completed = new double[bins];
        var inFlight = new double[bins];
        foreach (var r in records)
        {
            if (r.Succeeded)
                completed[Math.Min(bins - 1, (int)(r.EndMs / 1000))]++;
            for (var s = (int)(r.SentMs / 1000); s <= Math.Min(bins - 1, (int)(r.EndMs / 1000)); s++)
                inFlight[s]++;
        }
        var seconds = Enumerable.Range(0, bins).Select(i => (double)i).ToArray();
        var plot = new Plot();
        plot.Add.ScatterLine(seconds, completed).LegendText = "completed requests/s";
        plot.Add.ScatterLine(seconds, inFlight).LegendText = "requests in flight (queueing)";
        plot.ShowLegend();
        plot.Title("Throughput and requests in flight over time");
        plot.XLabel("seconds from the start");
        return Save(plot, directory, "timeline.png");
    }

    private static string Save(Plot plot, string directory, string name)
    {
        var path = Path.Combine(directory, name);
        plot.SavePng(path, 900, 500);
        return path;
    }
}
