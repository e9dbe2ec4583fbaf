using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

/// <summary>Records drain requests, as the control plane's admin endpoint would receive them.</summary>
internal sealed class RecordingDrainClient : IDrainClient
{
    public List<(string Namespace, string Model)> Drained { get; } = [];

    public Task DrainAsync(string @namespace, string model, CancellationToken cancellationToken)
    {
        Drained.Add((@namespace, model));
        return Task.CompletedTask;
    }
}
