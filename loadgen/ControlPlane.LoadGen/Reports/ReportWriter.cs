using System.Globalization;
using System.Text;
using System.Text.Json;
using ControlPlane.LoadGen.Replay;

namespace ControlPlane.LoadGen.Reports;

/// <summary>Writes a report as <c>report.json</c>, <c>report.md</c> and <c>requests.jsonl</c> (one record a line).</summary>
public static class ReportWriter
{
    public static void Write(string directory, ReplayReport report, IReadOnlyList<RequestRecord> records)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(report, ReportJson.Indented));
        File.WriteAllText(Path.Combine(directory, "report.md"), Markdown(report));
        using var lines = new StreamWriter(Path.Combine(directory, "requests.jsonl"));
        foreach (var record in records.OrderBy(r => r.Index))
            lines.WriteLine(JsonSerializer.Serialize(record with { InterTokenMs = [] }, ReportJson.Compact));
    }

    public static string Markdown(ReplayReport r)
    {
        static string F(double v) => double.IsNaN(v) ? "—" : v.ToString("0.0", CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Replay of {r.Trace} against {r.Endpoint} ({r.Model})");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- requests: {r.Sent} sent, {r.Succeeded} succeeded, {r.Failed} failed{(r.ErrorsByKind.Count > 0 ? " (" + string.Join(", ", r.ErrorsByKind.Select(e => $"{e.Key}: {e.Value}")) + ")" : "")}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- duration: {r.DurationSeconds:0.0} s; throughput {r.RequestThroughput:0.00} requests/s, {r.OutputTokenThroughput:0} output tokens/s, {r.InputTokenThroughput:0} input tokens/s");
        md.AppendLine(CultureInfo.InvariantCulture, $"- goodput: {r.Goodput:0.00} requests/s ({r.MetSlo} of {r.Sent} met TTFT ≤ {(r.Slo.TimeToFirstTokenMs?.ToString(CultureInfo.InvariantCulture) ?? "∞")} ms and TPOT ≤ {(r.Slo.TimePerOutputTokenMs?.ToString(CultureInfo.InvariantCulture) ?? "∞")} ms)");
        if (r.EnergyPerOutputTokenJoules is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"- GPU energy (as the server attributes it): {r.EnergyPerOutputTokenJoules:0.000} J per output token, {r.EnergyPerRequestJoules:0.0} J per request");
        if (r.CachedTokensPerRequest is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"- prefix cache: {r.CachedTokensPerRequest:0} cached prompt tokens per request, {r.PromptCacheHitRate:P1} of prompt tokens");
        md.AppendLine();
        md.AppendLine("| latency (ms) | mean | p50 | p90 | p99 | max | n |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var (name, s) in new[] { ("time to first token", r.TimeToFirstTokenMs), ("time per output token", r.TimePerOutputTokenMs),
                     ("inter-token", r.InterTokenMs), ("end to end", r.EndToEndMs), ("send lag", r.SendLagMs) })
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {F(s.Mean)} | {F(s.P50)} | {F(s.P90)} | {F(s.P99)} | {F(s.Max)} | {s.Count} |");
        if (r.ByClass.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| priority class | sent | succeeded | met SLO | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var c in r.ByClass)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {c.Name} | {c.Sent} | {c.Succeeded} | {c.MetSlo} ({(c.Sent > 0 ? (double)c.MetSlo / c.Sent : 0):P1}) | {F(c.TimeToFirstTokenMs.P50)} | {F(c.TimeToFirstTokenMs.P99)} | {F(c.TimePerOutputTokenMs.P50)} | {F(c.TimePerOutputTokenMs.P99)} |");
            }
        }
        return md.ToString();
    }
}
