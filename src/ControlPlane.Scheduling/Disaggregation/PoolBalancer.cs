using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Disaggregation;

/// <summary>An instance to move to another role: it drains first (its requests migrate away), then switches.</summary>
public sealed record RoleChange(string InstanceId, InstanceRole From, InstanceRole To, string Why);

/// <summary>
/// Moves instances between the prefill and decode pools as the traffic's mix changes (Splitwise's pool manager, xLLM's
/// adaptive P/D): the prefill pool grows when its queued prompt tokens per instance pass
/// <see cref="PoolBalanceConfig.PrefillHighTokens"/> and the decode pool would stay under
/// <see cref="PoolBalanceConfig.DecodeLowUsage"/> without its least used instance; the decode pool grows when its KV usage
/// passes <see cref="PoolBalanceConfig.DecodeHighUsage"/> and the prefill pool would stay under
/// <see cref="PoolBalanceConfig.PrefillLowTokens"/> per instance without one. The gap between the high and low marks is
/// the hysteresis; one change at a time, then a cooldown. Pure: the scheduler grain and the simulator run it.
/// </summary>
public sealed class PoolBalancer(PoolBalanceConfig config)
{
    private DateTimeOffset _lastChange = DateTimeOffset.MinValue;

    public PoolBalanceConfig Config { get; } = config;

    /// <param name="loads">The model's instances.</param>
    /// <param name="changing">Instances whose role change is still under way (draining).</param>
    /// <param name="now">The time.</param>
    public RoleChange? Plan(IReadOnlyList<InstanceLoad> loads, IReadOnlyCollection<string> changing, DateTimeOffset now)
    {
        if (!Config.Enabled || changing.Count > 0 || (_lastChange != DateTimeOffset.MinValue && now - _lastChange < Config.Cooldown))
            return null;
        var prefill = loads.Where(l => l.Role == InstanceRole.Prefill && l.Health == InstanceHealth.Ready).ToList();
        var decode = loads.Where(l => l.Role == InstanceRole.Decode && l.Health == InstanceHealth.Ready).ToList();
        if (decode.Count == 0)
            return null;
        // With no prefill pool, the decode instances run the prompts: their queue is the prefill demand.
        var queued = (prefill.Count > 0 ? prefill : decode).Sum(DisaggregationDecider.QueuedPromptTokens);
        var prefillPressure = (double)queued / Math.Max(1, prefill.Count);
        var used = decode.Sum(l => (long)l.UsedKvBlocks + l.WaitingKvBlocks);
        var total = decode.Sum(l => (long)l.TotalKvBlocks);
        var decodeUsage = total == 0 ? 1 : (double)used / total;

        RoleChange? change = null;
        if (prefillPressure > Config.PrefillHighTokens && decode.Count > Config.MinDecode)
        {
            var donor = decode.MinBy(l => l.UsedKvBlocks + l.WaitingKvBlocks)!;
            var without = total - donor.TotalKvBlocks;
            var usageWithout = without <= 0 ? 1 : (double)used / without;
            if (usageWithout < Config.DecodeLowUsage)
                change = new RoleChange(donor.InstanceId, InstanceRole.Decode, InstanceRole.Prefill,
                    $"{prefillPressure:F0} queued prompt tokens per prefill instance; the decode pool at {usageWithout:P0} without it");
        }
        else if (decodeUsage > Config.DecodeHighUsage && prefill.Count > Config.MinPrefill)
        {
            var donor = prefill.MinBy(DisaggregationDecider.QueuedPromptTokens)!;
            var pressureWithout = (double)queued / Math.Max(1, prefill.Count - 1);
            if (pressureWithout < Config.PrefillLowTokens)
                change = new RoleChange(donor.InstanceId, InstanceRole.Prefill, InstanceRole.Decode,
                    $"decode pool at {decodeUsage:P0} of its KV blocks; {pressureWithout:F0} queued prompt tokens per prefill instance without it");
        }
        if (change is not null)
            _lastChange = now;
        return change;
    }
}
