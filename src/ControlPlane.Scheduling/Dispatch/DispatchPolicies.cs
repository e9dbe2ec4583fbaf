using ControlPlane.Scheduling.Dispatch.Filters;
using ControlPlane.Scheduling.Dispatch.Pickers;
using ControlPlane.Scheduling.Dispatch.Scorers;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// Every dispatch plugin and preset by name, and the one place that builds profiles from configuration.
/// Unknown names are errors that name the configuration key, reported before anything starts.
/// </summary>
public static class DispatchPolicies
{
    private static readonly string[] StandardFilters =
        [ReadyFilter.PluginName, NewRequestRoleFilter.PluginName, FitsKvCapacityFilter.PluginName, QueueLimitFilter.PluginName, SloAdmissionFilter.PluginName];

    /// <summary>The named policies users pick with <c>ControlPlane:Dispatch:Policy</c>.</summary>
    public static IReadOnlyDictionary<string, DispatchProfileConfig> Presets { get; } = new Dictionary<string, DispatchProfileConfig>
    {
        ["round-robin"] = new() { Filters = StandardFilters, Picker = RoundRobinPicker.PluginName },
        ["random"] = new() { Filters = StandardFilters, Picker = RandomPicker.PluginName },
        ["least-request"] = new() { Filters = StandardFilters, Scorers = [new() { Name = LeastRequestScorer.PluginName }], Picker = MaxScorePicker.PluginName },
        ["least-kv-usage"] = new() { Filters = StandardFilters, Scorers = [new() { Name = KvUsageScorer.PluginName }], Picker = MaxScorePicker.PluginName },
        ["prefix-aware"] = new()
        {
            Filters = StandardFilters,
            Scorers = [new() { Name = KvUsageScorer.PluginName }, new() { Name = PrefixAffinityScorer.PluginName }],
            Picker = MaxScorePicker.PluginName,
        },
        ["power-aware"] = new()
        {
            Filters = StandardFilters,
            Scorers = [new() { Name = KvUsageScorer.PluginName }, new() { Name = ClassAffinityScorer.PluginName, Weight = 0.25 }],
            Picker = MaxScorePicker.PluginName,
        },
    };

    public static IReadOnlyCollection<string> FilterNames { get; } =
        [ReadyFilter.PluginName, NewRequestRoleFilter.PluginName, FitsKvCapacityFilter.PluginName, QueueLimitFilter.PluginName, SloAdmissionFilter.PluginName];

    public static IReadOnlyCollection<string> ScorerNames { get; } = [LeastRequestScorer.PluginName, KvUsageScorer.PluginName, ClassAffinityScorer.PluginName, PrefixAffinityScorer.PluginName];

    public static IReadOnlyCollection<string> PickerNames { get; } =
        [MaxScorePicker.PluginName, RoundRobinPicker.PluginName, RandomPicker.PluginName];

    /// <summary>Checks a configuration; each error names its key (under <paramref name="section"/>) and the allowed values.</summary>
    public static IReadOnlyList<string> Validate(DispatchConfig config, string section = "ControlPlane:Dispatch")
    {
        var errors = new List<string>();
        if (config.QueueLimit < 1)
            errors.Add($"{section}:QueueLimit must be at least 1 (got {config.QueueLimit})");
        var slo = config.SloAdmission;
        if (slo.Interactive < TimeSpan.Zero || slo.Standard < TimeSpan.Zero || slo.Batch < TimeSpan.Zero)
            errors.Add($"{section}:SloAdmission targets must not be negative (zero: no limit)");
        if (config.Profile is null)
        {
            if (!Presets.ContainsKey(config.Policy))
                errors.Add($"{section}:Policy '{config.Policy}' is not a dispatch policy; known: {string.Join(", ", Presets.Keys)}");
            return errors;
        }

        var profile = config.Profile;
        for (var i = 0; i < profile.Filters.Count; i++)
        {
            if (!FilterNames.Contains(profile.Filters[i]))
                errors.Add($"{section}:Profile:Filters:{i} '{profile.Filters[i]}' is not a filter; known: {string.Join(", ", FilterNames)}");
        }
        for (var i = 0; i < profile.Scorers.Count; i++)
        {
            var scorer = profile.Scorers[i];
            if (!ScorerNames.Contains(scorer.Name))
                errors.Add($"{section}:Profile:Scorers:{i}:Name '{scorer.Name}' is not a scorer; known: {string.Join(", ", ScorerNames)}");
            if (!(scorer.Weight > 0) || double.IsInfinity(scorer.Weight))
                errors.Add($"{section}:Profile:Scorers:{i}:Weight must be a positive number (got {scorer.Weight})");
        }
        if (!PickerNames.Contains(profile.Picker))
            errors.Add($"{section}:Profile:Picker '{profile.Picker}' is not a picker; known: {string.Join(", ", PickerNames)}");
        return errors;
    }

    /// <summary>Builds the profile a configuration names. Call <see cref="Validate"/> first; this throws on the first error.</summary>
    public static DispatchProfile Create(DispatchConfig config, Random random)
    {
        var errors = Validate(config);
        if (errors.Count > 0)
            throw new ArgumentException(string.Join("; ", errors), nameof(config));
        var name = config.Profile is null ? config.Policy : "custom";
        var profile = config.Profile ?? Presets[config.Policy];
        var filters = profile.Filters.Select(f => CreateFilter(f, config)).ToArray();
        var scorers = profile.Scorers.Select(s => new WeightedScorer(CreateScorer(s.Name), s.Weight)).ToArray();
        return new DispatchProfile(name, filters, scorers, CreatePicker(profile.Picker, random));
    }

    private static IDispatchFilter CreateFilter(string name, DispatchConfig config) => name switch
    {
        ReadyFilter.PluginName => new ReadyFilter(),
        NewRequestRoleFilter.PluginName => new NewRequestRoleFilter(),
        FitsKvCapacityFilter.PluginName => new FitsKvCapacityFilter(),
        QueueLimitFilter.PluginName => new QueueLimitFilter(config.QueueLimit),
        SloAdmissionFilter.PluginName => new SloAdmissionFilter(config.SloAdmission),
        _ => throw new ArgumentException($"unknown filter '{name}'", nameof(name)),
    };

    private static IDispatchScorer CreateScorer(string name) => name switch
    {
        LeastRequestScorer.PluginName => new LeastRequestScorer(),
        KvUsageScorer.PluginName => new KvUsageScorer(),
        PrefixAffinityScorer.PluginName => new PrefixAffinityScorer(),
        ClassAffinityScorer.PluginName => new ClassAffinityScorer(),
        _ => throw new ArgumentException($"unknown scorer '{name}'", nameof(name)),
    };

    private static IDispatchPicker CreatePicker(string name, Random random) => name switch
    {
        MaxScorePicker.PluginName => new MaxScorePicker(random),
        RoundRobinPicker.PluginName => new RoundRobinPicker(),
        RandomPicker.PluginName => new RandomPicker(random),
        _ => throw new ArgumentException($"unknown picker '{name}'", nameof(name)),
    };
}
