namespace ControlPlane.Scheduling.Disaggregation;

/// <summary>
/// <c>ControlPlane:Disaggregation</c>: when a request's prompt runs on a prefill instance and its tokens on another
/// (Splitwise, DistServe), decided per request as llm-d's P/D profile handler and xLLM do: a short prompt, or one
/// mostly cached where it will decode, is cheaper to run where it decodes. Splits happen only where the model has
/// instances in the prefill role; with none, every request runs where it decodes.
/// </summary>
public sealed record DisaggregationConfig
{
    /// <summary>Whether the dispatcher splits requests at all.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Prompt tokens not cached on the decode instance at or above which the prompt runs on a prefill instance.</summary>
    public int MinPromptTokens { get; init; } = 512;

    /// <summary>A prefill instance with more queued prompt tokens than this takes no more: the request runs where it decodes.</summary>
    public int MaxQueuedPromptTokens { get; init; } = 65536;

    /// <summary>
    /// Decode instances a split request's handoff tries in turn, the dispatcher's pick first: when one refuses it or cannot
    /// be reached before its first part went, the dispatch policy picks another among those not tried; past them the
    /// request decodes where it was prefilled. One: no second try.
    /// </summary>
    public int HandoffAttempts { get; init; } = 3;

    /// <summary>How the pools follow the traffic (<c>ControlPlane:Disaggregation:Pools</c>).</summary>
    public PoolBalanceConfig Pools { get; init; } = new();

    /// <summary>What is wrong with the configuration under <paramref name="key"/>; empty when nothing is.</summary>
    public IReadOnlyList<string> Validate(string key)
    {
        var errors = new List<string>();
        if (MinPromptTokens < 1)
            errors.Add($"{key}:MinPromptTokens must be at least 1 (got {MinPromptTokens})");
        if (MaxQueuedPromptTokens < 0)
            errors.Add($"{key}:MaxQueuedPromptTokens must not be negative (got {MaxQueuedPromptTokens})");
        if (HandoffAttempts < 1)
            errors.Add($"{key}:HandoffAttempts must be at least 1 (got {HandoffAttempts})");
        errors.AddRange(Pools.Validate($"{key}:Pools"));
        return errors;
    }
}

/// <summary>
/// <c>ControlPlane:Disaggregation:Pools</c>: the pool balancer moves instances between the prefill and decode roles as
/// the traffic's mix changes (Splitwise's pools, xLLM's adaptive P/D). Mixed instances keep their role.
/// </summary>
public sealed record PoolBalanceConfig
{
    /// <summary>Whether roles change at all (off: the pools stay as deployed).</summary>
    public bool Enabled { get; init; }

    /// <summary>How often the scheduler plans.</summary>
    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Instances kept in each role, whatever the traffic.</summary>
    public int MinPrefill { get; init; } = 1;
    public int MinDecode { get; init; } = 1;

    /// <summary>Queued prompt tokens per prefill instance above which the prefill pool grows, and below which it may shrink.</summary>
    public int PrefillHighTokens { get; init; } = 8192;
    public int PrefillLowTokens { get; init; } = 1024;

    /// <summary>Mean KV usage of the decode pool above which it grows, and below which it may give an instance up.</summary>
    public double DecodeHighUsage { get; init; } = 0.85;
    public double DecodeLowUsage { get; init; } = 0.5;

    /// <summary>After a role change, the next waits this long: the loads must show its effect first.</summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<string> Validate(string key)
    {
        var errors = new List<string>();
        if (Period <= TimeSpan.Zero)
            errors.Add($"{key}:Period must be positive (got {Period})");
        if (MinPrefill < 0 || MinDecode < 1)
            errors.Add($"{key}:MinPrefill must not be negative and MinDecode must be at least 1 (got {MinPrefill} and {MinDecode})");
        if (PrefillLowTokens < 0 || PrefillHighTokens <= PrefillLowTokens)
            errors.Add($"{key}:PrefillHighTokens ({PrefillHighTokens}) must be above {key}:PrefillLowTokens ({PrefillLowTokens}), which must not be negative");
        if (DecodeLowUsage < 0 || DecodeHighUsage <= DecodeLowUsage || DecodeHighUsage > 1)
            errors.Add($"{key}:DecodeHighUsage ({DecodeHighUsage}) must be above {key}:DecodeLowUsage ({DecodeLowUsage}) and at most 1");
        if (Cooldown < TimeSpan.Zero)
            errors.Add($"{key}:Cooldown must not be negative (got {Cooldown})");
        return errors;
    }
}
