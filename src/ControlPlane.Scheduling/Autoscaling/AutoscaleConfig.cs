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

    /// <summary>With a minimum of zero: a pool with no request for this long goes to zero.</summary>
    public TimeSpan IdleToZero { get; init; } = TimeSpan.FromMinutes(5);

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
        if (ScaleUpWindow < TimeSpan.Zero || ScaleDownWindow < TimeSpan.Zero || IdleToZero < TimeSpan.Zero)
            errors.Add($"{key}:ScaleUpWindow, ScaleDownWindow and IdleToZero must not be negative");
        if (MaxStepUp < 1)
            errors.Add($"{key}:MaxStepUp must be at least 1 (got {MaxStepUp})");
        return errors;
    }
}
