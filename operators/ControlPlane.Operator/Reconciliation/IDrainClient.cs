namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Asks the control plane to drain pods of a model before they go: their instances take no new request, and the
/// model's scheduler migrates their running requests to other instances (or they finish where they are).
/// </summary>
public interface IDrainClient
{
    /// <summary>Drains the pods' instances (again: it is idempotent); returns the requests still on them (running or waiting).</summary>
    Task<int> DrainAsync(string @namespace, string model, IReadOnlyList<string> pods, CancellationToken cancellationToken);

    /// <summary>Calls a drain off (a scale-in undone before its pods went): the pods' instances take requests again.</summary>
    Task ResumeAsync(string @namespace, IReadOnlyList<string> pods, CancellationToken cancellationToken);
}
