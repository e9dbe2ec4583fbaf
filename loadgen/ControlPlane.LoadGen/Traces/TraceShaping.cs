namespace ControlPlane.LoadGen.Traces;

/// <summary>What the replay changes about a trace: time scale, arrival rate, how much of it to send.</summary>
public sealed record TraceShaping
{
    /// <summary>Divides every arrival time: 2 replays the trace twice as fast.</summary>
    public double Speedup { get; init; } = 1;

    /// <summary>Replaces the trace's arrivals by Poisson arrivals at this rate (requests/s), keeping lengths and order.</summary>
    public double? Rate { get; init; }
    public int? MaxRequests { get; init; }

    /// <summary>Keeps requests arriving within this span (after speedup).</summary>
    public TimeSpan? Duration { get; init; }
    public int Seed { get; init; } = 1;

    public IReadOnlyList<TraceRequest> Apply(IReadOnlyList<TraceRequest> trace)
    {
        if (Speedup <= 0)
            throw new ArgumentException($"--speedup must be positive (got {Speedup})");
        IEnumerable<TraceRequest> shaped = trace.OrderBy(r => r.ArrivalMs);
        if (MaxRequests is { } max)
            shaped = shaped.Take(max);
        var list = shaped.ToList();
        if (Rate is { } rate)
        {
            var arrivals = SyntheticTrace.Poisson(rate, list.Count, new LengthSpec(1, 1), new LengthSpec(1, 1), Seed);
            list = [.. list.Select((r, i) => r with { ArrivalMs = arrivals[i].ArrivalMs })];
        }
        else if (list.Count > 0)
        {
            var start = list[0].ArrivalMs;
            list = [.. list.Select(r => r with { ArrivalMs = (r.ArrivalMs - start) / Speedup })];
        }
        return Duration is { } duration ? [.. list.Where(r => r.ArrivalMs < duration.TotalMilliseconds)] : list;
    }
}
