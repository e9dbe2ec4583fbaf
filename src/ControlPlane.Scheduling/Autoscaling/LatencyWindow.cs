using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Autoscaling;

/// <summary>
/// The time to first token and per output token of the requests that finished over the last <see cref="Window"/>: what a
/// gateway reports to its models' schedulers (as <see cref="LatencyDigest"/>s) and what the simulator's planner reads, so
/// both planners see latency measured the same way. Bounded by time and count; any thread.
/// </summary>
public sealed class LatencyWindow(TimeSpan window, int capacity = 100_000)
{
    private readonly Queue<(DateTimeOffset At, double Ttft, double Tpot)> _finished = new();
    private readonly Lock _gate = new();

    /// <summary>The window the planners read: a minute of finished requests.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(60);

    public TimeSpan Window { get; } = window;

    /// <summary>A request that finished at <paramref name="at"/>; NaN for a figure it has not (no first token, or one token only).</summary>
    public void Add(DateTimeOffset at, double ttftMs, double tpotMs)
    {
        lock (_gate)
        {
            _finished.Enqueue((at, ttftMs, tpotMs));
            Trim(at);
        }
    }

    /// <summary>The requests finished in the window ending at <paramref name="now"/>; null when there are none.</summary>
    public LatencyReport? Report(DateTimeOffset now)
    {
        lock (_gate)
        {
            Trim(now);
            if (_finished.Count == 0)
                return null;
            return new LatencyReport
            {
                TimeToFirstToken = LatencyDigest.Of(_finished.Select(f => f.Ttft)),
                TimePerOutputToken = LatencyDigest.Of(_finished.Select(f => f.Tpot)),
            };
        }
    }

    private void Trim(DateTimeOffset now)
    {
        while (_finished.Count > 0 && (now - _finished.Peek().At > Window || _finished.Count > capacity))
            _finished.Dequeue();
    }
}
