using ControlPlane.LoadGen.Replay;

namespace ControlPlane.LoadGen.Reports;

/// <summary>The summary of a replay: latencies, throughput, goodput, errors. Counts add up: sent = succeeded + failed.</summary>
public sealed record ReplayReport
{
    public required string Trace { get; init; }
    public required string Endpoint { get; init; }
    public required string Model { get; init; }
    public required int Sent { get; init; }
    public required int Succeeded { get; init; }
    public required int Failed { get; init; }
    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }
    public required double DurationSeconds { get; init; }
    public required double RequestThroughput { get; init; }
    public required double OutputTokenThroughput { get; init; }
    public required double InputTokenThroughput { get; init; }
    public required int MetSlo { get; init; }
    public required double Goodput { get; init; }
    public required Slo Slo { get; init; }
    public required LatencyStats TimeToFirstTokenMs { get; init; }
    public required LatencyStats TimePerOutputTokenMs { get; init; }
    public required LatencyStats InterTokenMs { get; init; }
    public required LatencyStats EndToEndMs { get; init; }
    public required LatencyStats SendLagMs { get; init; }
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }

    /// <summary>GPU energy per output token over the requests whose energy the server reported (J); null when none did.</summary>
    public double? EnergyPerOutputTokenJoules { get; init; }

    /// <summary>Mean GPU energy per request over those requests (J); null when none did.</summary>
    public double? EnergyPerRequestJoules { get; init; }

    /// <summary>Mean prompt tokens served from the server's prefix cache per request, and their share of the prompt tokens, over the requests that reported it; null when none did.</summary>
    public double? CachedTokensPerRequest { get; init; }
    public double? PromptCacheHitRate { get; init; }

    /// <summary>By priority class (when the replay sent classes): each class's own counts, SLO attainment and latencies.</summary>
    public IReadOnlyList<ClassReport> ByClass { get; init; } = [];

    public static ReplayReport From(string trace, string endpoint, string model, IReadOnlyList<RequestRecord> records, Slo slo)
    {
        var ok = records.Where(r => r.Succeeded).ToArray();
        var start = records.Count == 0 ? 0 : records.Min(r => r.SentMs);
        var end = records.Count == 0 ? 0 : records.Max(r => r.EndMs);
        var seconds = Math.Max((end - start) / 1000, 1e-9);
        bool Met(RequestRecord r) => (slo.TimeToFirstTokenMs is not { } t || r.TimeToFirstTokenMs <= t)
                                     && (slo.TimePerOutputTokenMs is not { } p || r.TimePerOutputTokenMs is null || r.TimePerOutputTokenMs <= p);
        var met = ok.Count(Met);
        return new ReplayReport
        {
            Trace = trace,
            Endpoint = endpoint,
            Model = model,
            Sent = records.Count,
            Succeeded = ok.Length,
            Failed = records.Count - ok.Length,
            ErrorsByKind = records.Where(r => !r.Succeeded).GroupBy(r => r.Error!).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            DurationSeconds = seconds,
            RequestThroughput = ok.Length / seconds,
            OutputTokenThroughput = ok.Sum(r => (long)r.OutputTokens) / seconds,
            InputTokenThroughput = ok.Sum(r => (long)r.InputTokens) / seconds,
            MetSlo = met,
            Goodput = met / seconds,
            Slo = slo,
            TimeToFirstTokenMs = LatencyStats.Of(ok.Select(r => r.TimeToFirstTokenMs ?? double.NaN)),
            TimePerOutputTokenMs = LatencyStats.Of(ok.Select(r => r.TimePerOutputTokenMs ?? double.NaN)),
            InterTokenMs = LatencyStats.Of(ok.SelectMany(r => r.InterTokenMs)),
            EndToEndMs = LatencyStats.Of(ok.Select(r => r.EndToEndMs)),
            SendLagMs = LatencyStats.Of(records.Select(r => r.SendLagMs)),
            InputTokens = ok.Sum(r => (long)r.InputTokens),
            OutputTokens = ok.Sum(r => (long)r.OutputTokens),
            EnergyPerOutputTokenJoules = ok.Where(r => r.EnergyJoules is not null).Sum(r => (long)r.OutputTokens) is > 0 and var tokens
                ? ok.Sum(r => r.EnergyJoules ?? 0) / tokens
                : null,
            EnergyPerRequestJoules = ok.Count(r => r.EnergyJoules is not null) is > 0 and var n ? ok.Sum(r => r.EnergyJoules ?? 0) / n : null,
            CachedTokensPerRequest = ok.Count(r => r.CachedTokens is not null) is > 0 and var withCache ? ok.Sum(r => (double)(r.CachedTokens ?? 0)) / withCache : null,
            PromptCacheHitRate = ok.Where(r => r.CachedTokens is not null).Sum(r => (long)r.InputTokens) is > 0 and var prompted
                ? ok.Sum(r => (double)(r.CachedTokens ?? 0)) / prompted : null,
            ByClass = [.. records.Where(r => r.PriorityClass is not null).GroupBy(r => r.PriorityClass!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
            {
                var done = g.Where(r => r.Succeeded).ToArray();
                return new ClassReport(g.Key, g.Count(), done.Length, done.Count(Met),
                    LatencyStats.Of(done.Select(r => r.TimeToFirstTokenMs ?? double.NaN)), LatencyStats.Of(done.Select(r => r.TimePerOutputTokenMs ?? double.NaN)));
            })],
        };
    }
}

/// <summary>One priority class's share of a replay.</summary>
public sealed record ClassReport(string Name, int Sent, int Succeeded, int MetSlo, LatencyStats TimeToFirstTokenMs, LatencyStats TimePerOutputTokenMs);
