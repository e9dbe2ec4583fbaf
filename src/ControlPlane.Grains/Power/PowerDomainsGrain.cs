using ControlPlane.Power;

namespace ControlPlane.Grains.Power;

/// <summary>The PowerBudgets' domains as last applied (see <see cref="IPowerDomainsGrain"/>); in memory.</summary>
public sealed class PowerDomainsGrain : Grain, IPowerDomainsGrain
{
    private Dictionary<string, PowerDomainSpec>? _domains;

    public async Task ApplyAsync(IReadOnlyList<PowerDomainSpec> domains, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domains);
        var next = new Dictionary<string, PowerDomainSpec>(StringComparer.Ordinal);
        foreach (var spec in domains)
        {
            if (spec.Validate("") is [var error, ..])
                throw new ArgumentException($"domain '{spec.Name}': {error}", nameof(domains));
            if (!next.TryAdd(spec.Name, spec))
                throw new ArgumentException($"domain '{spec.Name}' is given twice", nameof(domains));
        }
        var previous = _domains ?? [];
        _domains = next; // first, so that a domain asking whether it is listed gets the new answer
        foreach (var spec in next.Values)
        {
            if (!previous.TryGetValue(spec.Name, out var old) || !Same(old, spec))
                await GrainFactory.GetGrain<IPowerDomainGrain>(spec.Name).ConfigureAsync(spec, cancellationToken);
        }
        foreach (var gone in previous.Keys.Where(name => !next.ContainsKey(name)))
            await GrainFactory.GetGrain<IPowerDomainGrain>(gone).StopAsync(cancellationToken);
    }

    public Task<IReadOnlyList<PowerDomainSpec>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<PowerDomainSpec>>([.. (_domains?.Values.AsEnumerable() ?? []).OrderBy(d => d.Name, StringComparer.Ordinal)]);

    public Task<bool?> IsListedAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(_domains is null ? null : (bool?)_domains.ContainsKey(name));

    /// <summary>Equal specs (the record's own equality compares its lists by reference): an unchanged budget is not sent again.</summary>
    private static bool Same(PowerDomainSpec a, PowerDomainSpec b) =>
        a.Name == b.Name && a.BudgetWatts == b.BudgetWatts && a.PeriodMs == b.PeriodMs && a.MinimumCapWatts == b.MinimumCapWatts
        && a.HeadroomPercent == b.HeadroomPercent && a.Models.SequenceEqual(b.Models) && a.Nodes.SequenceEqual(b.Nodes);
}
