namespace ControlPlane.Scheduling.Autoscaling;

/// <summary>
/// <c>ControlPlane:Autoscale</c>: how many instances a pool wants, from the same virtual usage that drives dispatch and
/// migration (Llumnix scales on it too), with the stabilization windows of Kubernetes' HPA so it does not flap.
/// </summary>
public sealed record AutoscaleConfig
{
    /// <summary>Whether the scheduler plans replicas at all.</summary>
    public bool Enabled { get; init; }

    /// <summary>How often the scheduler plans.</summary>
    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The mean usage per instance the pool is sized for (usage: virtual KV usage or batch occupancy, whichever is higher).</summary>
    public double TargetUsage { get; init; } = 0.7;

    /// <summary>Requests an instance runs at once at full occupancy (the engine's running limit).</summary>
    public int BatchCapacity { get; init; } = 256;

    /// <summary>Scale out to the lowest recommendation of this window (a burst must last this long).</summary>
    public TimeSpan ScaleUpWindow { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Scale in to the highest recommendation of this window (the HPA's default: five minutes).</summary>
    public TimeSpan ScaleDownWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far ahead a rising demand is projected (its slope over the last <see cref="TrendWindow"/>): an instance takes
    /// about this long to start, so the pool is sized for the demand it will meet then. Zero: size for now.
    /// </summary>
    public TimeSpan Lookahead { get; init; }

    /// <summary>The span over which the demand's slope is measured for <see cref="Lookahead"/>.</summary>
    public TimeSpan TrendWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>With a minimum of zero: a pool with no request for this long goes to zero.</summary>
    public TimeSpan IdleToZero { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Bounds of the scheduler's recommendation (the operator also holds it to each pool's own bounds).</summary>
    public int MinReplicas { get; init; }
    public int MaxReplicas { get; init; } = 64;

    /// <summary>At most this many instances added per plan (and at most doubling).</summary>
    public int MaxStepUp { get; init; } = 8;

    public IReadOnlyList<string> Validate(string key)
    {
        var errors = new List<string>();
        if (Period <= TimeSpan.Zero)
            errors.Add($"{key}:Period must be positive (got {Period})");
        if (TargetUsage is <= 0 or > 1)
            errors.Add($"{key}:TargetUsage must be above 0 and at most 1 (got {TargetUsage})");
        if (BatchCapacity < 1)
            errors.Add($"{key}:BatchCapacity must be at least 1 (got {BatchCapacity})");
        if (ScaleUpWindow < TimeSpan.Zero || ScaleDownWindow < TimeSpan.Zero || IdleToZero < TimeSpan.Zero || Lookahead < TimeSpan.Zero || TrendWindow <= TimeSpan.Zero)
            errors.Add($"{key}:ScaleUpWindow, ScaleDownWindow, IdleToZero and Lookahead must not be negative, and TrendWindow must be positive");
        if (MinReplicas < 0 || MaxReplicas < MinReplicas)
            errors.Add($"{key}:MinReplicas ({MinReplicas}) must not be negative nor above {key}:MaxReplicas ({MaxReplicas})");
        if (MaxStepUp < 1)
            errors.Add($"{key}:MaxStepUp must be at least 1 (got {MaxStepUp})");
        return errors;
    }
}
