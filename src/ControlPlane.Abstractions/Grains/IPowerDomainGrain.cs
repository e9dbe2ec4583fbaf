using ControlPlane.Power;

namespace ControlPlane.Grains;

/// <summary>One power domain (a <c>PowerBudget</c>): a control loop that reads its instances' draw and caps the least important work first.</summary>
[Alias("ControlPlane.IPowerDomainGrain")]
public interface IPowerDomainGrain : IGrainWithStringKey
{
    /// <summary>Starts (or keeps) the domain's loop; the grain reads its budget and models from the silo's configuration.</summary>
    [Alias("Ensure")]
    Task EnsureRunningAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs the domain as <paramref name="spec"/> says (a PowerBudget's, through <see cref="IPowerDomainsGrain"/>): starts its
    /// loop, or changes a running one's budget and members from its next period; instances no longer members are uncapped.
    /// </summary>
    [Alias("Configure")]
    Task ConfigureAsync(PowerDomainSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Stops the loop and lifts every cap it set (the PowerBudget was deleted).</summary>
    [Alias("Stop")]
    Task StopAsync(CancellationToken cancellationToken = default);

    [Alias("GetStatus")]
    Task<PowerDomainStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// The power domains the cluster's PowerBudgets declare (one grain, key 0), as the operator applies them: the whole set on
/// each of its passes, so that a budget deleted while a control silo was down is still stopped. In memory: after a restart
/// it is whole again at the operator's next pass; until then the domains it started run on, and a domain whose budget is
/// gone stops itself once the set has been applied again.
/// </summary>
[Alias("ControlPlane.IPowerDomainsGrain")]
public interface IPowerDomainsGrain : IGrainWithIntegerKey
{
    /// <summary>Makes the PowerBudgets' domains exactly <paramref name="domains"/>: each configured, any other one stopped.</summary>
    [Alias("Apply")]
    Task ApplyAsync(IReadOnlyList<PowerDomainSpec> domains, CancellationToken cancellationToken = default);

    /// <summary>The domains last applied.</summary>
    [Alias("List"), Orleans.Concurrency.AlwaysInterleave]
    Task<IReadOnlyList<PowerDomainSpec>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <paramref name="name"/> is among the domains last applied; null when none were applied since this grain
    /// started. Interleaved: a domain asks it from its period while <see cref="ApplyAsync"/> may be waiting on that domain.
    /// </summary>
    [Alias("IsListed"), Orleans.Concurrency.AlwaysInterleave]
    Task<bool?> IsListedAsync(string name, CancellationToken cancellationToken = default);
}
