namespace ControlPlane.Operator.Reconciliation;

/// <summary>The control plane's power domains, by name (a domain is named as its PowerBudget): applied and read.</summary>
public interface IPowerStatusClient
{
    /// <summary>The domains' live state, or null when the control plane cannot be reached (the status keeps its last values).</summary>
    Task<IReadOnlyDictionary<string, LivePower>?> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Makes the control plane's PowerBudget domains exactly <paramref name="domains"/> (those it ran before and that are not
    /// listed stop, their caps lifted); null when it took them, else why not (unreachable, or its refusal).
    /// </summary>
    Task<string?> ApplyAsync(IReadOnlyList<PowerDomainRequest> domains, CancellationToken cancellationToken);
}

/// <summary>One PowerBudget as the control plane runs it: its budget, the nodes its selector matches, and its caps' limits.</summary>
public sealed record PowerDomainRequest(string Name, long BudgetWatts, IReadOnlyList<string> Nodes, int MinimumGpuWatts, int HeadroomPercent);
