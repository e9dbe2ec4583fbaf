namespace ControlPlane.Scheduling.Power;

/// <summary>
/// POLCA's thresholds, as fractions of the domain's budget: above <see cref="BatchThreshold"/> batch work is
/// capped, above <see cref="StandardThreshold"/> standard work too, above <see cref="AllThreshold"/> everything;
/// above the budget itself the brake. A level is released only after <see cref="ReleasePeriods"/> periods in a
/// row below its threshold less <see cref="ReleaseMargin"/> (hysteresis: no flapping at a threshold).
/// </summary>
public sealed record PowerControllerConfig
{
    public double BatchThreshold { get; init; } = 0.80;
    public double StandardThreshold { get; init; } = 0.88;
    public double AllThreshold { get; init; } = 0.95;
    public double ReleaseMargin { get; init; } = 0.05;
    public int ReleasePeriods { get; init; } = 3;

    /// <summary>The cap of a capped batch instance, as a fraction of its maximum draw: deep, batch work tolerates delay.</summary>
    public double BatchCapFraction { get; init; } = 0.50;

    /// <summary>The cap of a capped instance serving interactive or standard work: shallow, to spare its latency.</summary>
    public double CapFraction { get; init; } = 0.80;

    /// <summary>The brake's cap, as a fraction of maximum draw, for every instance.</summary>
    public double BrakeFraction { get; init; } = 0.50;

    public IReadOnlyList<string> Validate(string path)
    {
        var errors = new List<string>();
        if (!(0 < BatchThreshold && BatchThreshold <= StandardThreshold && StandardThreshold <= AllThreshold && AllThreshold <= 1))
            errors.Add($"{path}: thresholds must satisfy 0 < BatchThreshold ≤ StandardThreshold ≤ AllThreshold ≤ 1 (got {BatchThreshold}, {StandardThreshold}, {AllThreshold})");
        if (ReleaseMargin is < 0 or >= 0.5)
            errors.Add($"{path}:ReleaseMargin must be in [0, 0.5) (got {ReleaseMargin})");
        if (ReleasePeriods < 1)
            errors.Add($"{path}:ReleasePeriods must be at least 1 (got {ReleasePeriods})");
        if (!(0 < BrakeFraction && BrakeFraction <= CapFraction && CapFraction <= 1 && 0 < BatchCapFraction && BatchCapFraction <= 1))
            errors.Add($"{path}: caps must satisfy 0 < BrakeFraction ≤ CapFraction ≤ 1 and 0 < BatchCapFraction ≤ 1 (got {BrakeFraction}, {CapFraction}, {BatchCapFraction})");
        return errors;
    }
}
