namespace ControlPlane.Server.Metrics;

/// <summary>
/// The requests this gateway finished over the last few minutes, per model: what the status page reports as SLO
/// attainment and prefix-cache hit rate. Bounded by time and count.
/// </summary>
public sealed class RecentRequests(TimeProvider time, TimeSpan window, int capacity = 100_000)
{
    private readonly Queue<Entry> _entries = new();
    private readonly Lock _lock = new();

    public TimeSpan Window { get; } = window;

    public void Add(string model, TimeSpan? firstToken, TimeSpan? perToken, int promptTokens, int cachedTokens)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _entries.Enqueue(new Entry(now, model, firstToken, perToken, promptTokens, cachedTokens));
            Trim(now);
        }
    }

    /// <summary>The model's requests in the window: count, share meeting both objectives, TTFT percentiles, prefix hit rate.</summary>
    public RecentSummary Summary(string model, double sloTtftMs, double sloTpotMs)
    {
        List<Entry> mine;
        lock (_lock)
        {
            Trim(time.GetUtcNow());
            mine = [.. _entries.Where(e => e.Model == model)];
        }
        if (mine.Count == 0)
            return new RecentSummary(0, double.NaN, double.NaN, double.NaN, double.NaN);
        var met = mine.Count(e => e.FirstToken is { } t && t.TotalMilliseconds <= sloTtftMs && (e.PerToken is null || e.PerToken.Value.TotalMilliseconds <= sloTpotMs));
        var ttft = mine.Where(e => e.FirstToken is not null).Select(e => e.FirstToken!.Value.TotalMilliseconds).Order().ToArray();
        long prompt = mine.Sum(e => (long)e.PromptTokens), cached = mine.Sum(e => (long)e.CachedTokens);
        return new RecentSummary(mine.Count, (double)met / mine.Count,
            ttft.Length == 0 ? double.NaN : ttft[ttft.Length / 2], ttft.Length == 0 ? double.NaN : ttft[Math.Min(ttft.Length - 1, (int)(ttft.Length * 0.99))],
            prompt == 0 ? double.NaN : (double)cached / prompt);
    }

    private void Trim(DateTimeOffset now)
    {
        while (_entries.Count > 0 && (now - _entries.Peek().At > Window || _entries.Count > capacity))
            _entries.Dequeue();
    }

    private sealed record Entry(DateTimeOffset At, string Model, TimeSpan? FirstToken, TimeSpan? PerToken, int PromptTokens, int CachedTokens);
}

/// <summary>A model's recent requests as the status page shows them.</summary>
public sealed record RecentSummary(int Requests, double SloAttainment, double TtftP50Ms, double TtftP99Ms, double PrefixHitRate);
