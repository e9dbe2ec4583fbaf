using System.Globalization;
using System.Net;
using System.Text;
using ControlPlane.Grains;
using ControlPlane.Instances;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Server.Metrics;
using ControlPlane.Server.Models;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>GET /status</c>: the fleet at a glance, rendered on the server as plain HTML (no script, no build step) that
/// reloads itself every two seconds: per model its instances with role, health, load, KV use and power, the
/// migrations and role changes under way, and over the last five minutes the requests this gateway finished, the
/// share that met both objectives, TTFT and the prefix-cache hit rate; then each power domain's draw against its budget,
/// its level, caps and brakes. <c>GET /status.json</c> is the same as JSON.
/// </summary>
public static class StatusPage
{
    public static async Task<IResult> Html(ModelCatalog catalog, IGrainFactory grains, GatewayMetrics metrics, ControlPlane.Server.Configuration.ControlPlaneConfig config,
        CancellationToken cancellationToken)
    {
        var models = await ReadAsync(catalog, grains, metrics, cancellationToken);
        var domains = await PowerEndpoints.ReadAsync(config, grains, cancellationToken);
        var html = new StringBuilder(8192);
        html.Append("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
            <title>ControlPlane status</title>
            <style>
            body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
            table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:right}
            th:first-child,td:first-child,td.t{text-align:left}.ready{color:#176317}.draining{color:#8a5a00}.failed,.starting{color:#a11}
            .bar{display:inline-block;height:.7em;background:#4a7fc1;vertical-align:middle}.kpi{display:inline-block;margin-right:2em}
            .kpi b{font-size:1.3em;display:block}
            </style></head><body>
            """);
        html.Append(CultureInfo.InvariantCulture, $"<h1>ControlPlane</h1><p>{Encode(DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture))} · {models.Count} model(s) · this page reloads every 2 s · <a href=\"/status.json\">JSON</a></p>");
        foreach (var m in models)
        {
            html.Append(CultureInfo.InvariantCulture, $"<h2 id=\"model-{Encode(m.Name)}\">{Encode(m.Name)}</h2><div>");
            Kpi(html, "instances ready", $"{m.Instances.Count(i => i.Health == InstanceHealth.Ready)} / {m.Instances.Count}");
            Kpi(html, "running", m.Instances.Sum(i => i.RunningRequests).ToString(CultureInfo.InvariantCulture));
            Kpi(html, "waiting", m.Instances.Sum(i => i.WaitingRequests).ToString(CultureInfo.InvariantCulture));
            Kpi(html, "finished (5 min)", m.Recent.Requests.ToString(CultureInfo.InvariantCulture));
            Kpi(html, $"met SLO ({m.SloTtftMs:0} ms TTFT, {m.SloTpotMs:0} ms TPOT)", Percent(m.Recent.SloAttainment));
            Kpi(html, "TTFT p50 / p99", $"{Ms(m.Recent.TtftP50Ms)} / {Ms(m.Recent.TtftP99Ms)}");
            Kpi(html, "prefix hit rate", Percent(m.Recent.PrefixHitRate));
            Kpi(html, "all gateways, last minute: TTFT / TPOT p90", $"{Ms(m.Cluster.TtftP90Ms ?? double.NaN)} / {Ms(m.Cluster.TpotP90Ms ?? double.NaN)}");
            Kpi(html, "power draw", m.Instances.Any(i => i.MaxWatts > 0) ? $"{m.Instances.Sum(i => i.DrawWatts):0} W" : "not measured");
            html.Append("</div><table><thead><tr><th>instance</th><th>role</th><th>health</th><th>running</th><th>waiting</th><th>KV use</th><th>KV blocks</th><th>draw W</th><th>cap W</th></tr></thead><tbody>");
            foreach (var i in m.Instances)
            {
                var health = i.Health.ToString().ToLowerInvariant();
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr class=\"instance\"><td>{Encode(i.InstanceId)}</td><td class=\"t\">{i.Role.ToString().ToLowerInvariant()}</td><td class=\"t {health}\">{health}</td><td>{i.RunningRequests}</td><td>{i.WaitingRequests}</td>"
                    + $"<td><span class=\"bar\" style=\"width:{Math.Clamp(i.KvUsage, 0, 1) * 80:0}px\"></span> {i.KvUsage:P0}</td><td>{i.UsedKvBlocks} / {i.TotalKvBlocks}</td>"
                    + $"<td>{(i.MaxWatts > 0 ? i.DrawWatts.ToString("0", CultureInfo.InvariantCulture) : "–")}</td><td>{(i.PowerCapWatts is { } cap ? cap.ToString("0", CultureInfo.InvariantCulture) : "–")}</td></tr>");
            }
            html.Append("</tbody></table>");
            html.Append(CultureInfo.InvariantCulture, $"<p>Migrations in flight: {m.Activity.Migrations.Count}");
            foreach (var move in m.Activity.Migrations)
                html.Append(CultureInfo.InvariantCulture, $" · {Encode(move.Source)} → {Encode(move.Destination)} ({Encode(move.Reason)})");
            html.Append(CultureInfo.InvariantCulture, $". Role changes: {m.Activity.RoleChanges.Count}");
            foreach (var change in m.Activity.RoleChanges)
                html.Append(CultureInfo.InvariantCulture, $" · {Encode(change.Key)} → {change.Value.ToString().ToLowerInvariant()}");
            html.Append(".</p>");
        }
        if (domains.Count > 0)
        {
            html.Append("<h2 id=\"power\">Power domains</h2><table><thead><tr><th>domain</th><th>budget W</th><th>draw W</th><th>of budget</th><th>level</th><th>instances</th><th>capped</th><th>brakes</th></tr></thead><tbody>");
            foreach (var d in domains)
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr class=\"domain\"><td>{Encode(d.Domain)}</td><td>{d.BudgetWatts:0}</td><td>{d.DrawWatts:0}</td><td>{(d.BudgetWatts > 0 ? Percent(d.DrawWatts / d.BudgetWatts) : "–")}</td>"
                    + $"<td class=\"t\">{Encode(d.Level)}</td><td>{d.Instances}</td><td>{d.Caps.Count}</td><td>{d.Brakes}</td></tr>");
            }
            html.Append("</tbody></table>");
        }
        html.Append("</body></html>\n");
        return Results.Content(html.ToString(), "text/html; charset=utf-8");
    }

    public static async Task<IResult> Json(ModelCatalog catalog, IGrainFactory grains, GatewayMetrics metrics, ControlPlane.Server.Configuration.ControlPlaneConfig config,
        CancellationToken cancellationToken)
    {
        var models = await ReadAsync(catalog, grains, metrics, cancellationToken);
        var domains = await PowerEndpoints.ReadAsync(config, grains, cancellationToken);
        return Results.Json(new
        {
            at = DateTimeOffset.UtcNow,
            models = models.Select(m => new
            {
                name = m.Name,
                slo = new { ttft_ms = m.SloTtftMs, tpot_ms = m.SloTpotMs },
                recent = new
                {
                    window_s = metrics.Recent.Window.TotalSeconds, requests = m.Recent.Requests, slo_attainment = Nullable(m.Recent.SloAttainment),
                    ttft_p50_ms = Nullable(m.Recent.TtftP50Ms), ttft_p99_ms = Nullable(m.Recent.TtftP99Ms), prefix_hit_rate = Nullable(m.Recent.PrefixHitRate),
                },
                // Every gateway's requests of the last minute, merged at the model's scheduler (p90s need 20 requests).
                cluster = new { window_s = LatencyWindow.DefaultWindow.TotalSeconds, requests = m.Cluster.LatencySamples, ttft_p90_ms = m.Cluster.TtftP90Ms, tpot_p90_ms = m.Cluster.TpotP90Ms },
                instances = m.Instances.Select(i => new
                {
                    id = i.InstanceId, role = i.Role.ToString().ToLowerInvariant(), health = i.Health.ToString().ToLowerInvariant(), running = i.RunningRequests,
                    waiting = i.WaitingRequests, kv_usage = i.KvUsage, kv_blocks_used = i.UsedKvBlocks, kv_blocks = i.TotalKvBlocks, draw_watts = i.DrawWatts, cap_watts = i.PowerCapWatts,
                }),
                migrations = m.Activity.Migrations.Select(x => new { source = x.Source, destination = x.Destination, reason = x.Reason, since = x.Since }),
                role_changes = m.Activity.RoleChanges.Select(x => new { instance = x.Key, to = x.Value.ToString().ToLowerInvariant() }),
            }),
            power_domains = domains.Select(d => new
            {
                name = d.Domain, budget_watts = d.BudgetWatts, draw_watts = d.DrawWatts, level = d.Level, instances = d.Instances, capped = d.Caps.Count, brakes = d.Brakes,
                updated_at = d.UpdatedAt == default ? (DateTimeOffset?)null : d.UpdatedAt,
            }),
        });
    }

    private sealed record ModelStatus(string Name, IReadOnlyList<InstanceLoad> Instances, SchedulerActivity Activity, RecentSummary Recent, double SloTtftMs, double SloTpotMs,
        DesiredReplicas Cluster);

    private static async Task<List<ModelStatus>> ReadAsync(ModelCatalog catalog, IGrainFactory grains, GatewayMetrics metrics, CancellationToken cancellationToken)
    {
        var list = new List<ModelStatus>();
        foreach (var model in catalog.All.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            var scheduler = grains.GetGrain<ISchedulerGrain>(model.Name);
            var snapshot = await scheduler.GetSnapshotAsync(cancellationToken);
            var activity = await scheduler.GetActivityAsync(cancellationToken);
            // Every gateway's last minute, as the scheduler merged their reports (what the autoscaler reads).
            var cluster = await scheduler.GetDesiredReplicasAsync(cancellationToken);
            // The model's own targets: its configuration's, or for a model learned from the cluster its ModelService's.
            list.Add(new ModelStatus(model.Name, snapshot.Instances, activity, metrics.Recent.Summary(model.Name, model.SloTtftMs, model.SloTpotMs), model.SloTtftMs, model.SloTpotMs,
                cluster));
        }
        return list;
    }

    private static void Kpi(StringBuilder html, string label, string value) =>
        html.Append(CultureInfo.InvariantCulture, $"<span class=\"kpi\"><b>{Encode(value)}</b>{Encode(label)}</span>");

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Percent(double x) => double.IsNaN(x) ? "–" : x.ToString("P1", CultureInfo.InvariantCulture);

    private static string Ms(double x) => double.IsNaN(x) ? "–" : x.ToString("0", CultureInfo.InvariantCulture) + " ms";

    private static double? Nullable(double x) => double.IsNaN(x) ? null : x;
}
