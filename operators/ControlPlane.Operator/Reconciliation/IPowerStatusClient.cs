namespace ControlPlane.Operator.Reconciliation;

/// <summary>Reads the control plane's live power domains, by name (a domain is named as its PowerBudget).</summary>
public interface IPowerStatusClient
{
    /// <summary>The domains' live state, or null when the control plane cannot be reached (the status keeps its last values).</summary>
    Task<IReadOnlyDictionary<string, LivePower>?> ReadAsync(CancellationToken cancellationToken);
}
