namespace ControlPlane.Operator.Reconciliation;

/// <summary>Asks the control plane to drain a model's instances (migrate or finish their requests) before their pods go.</summary>
public interface IDrainClient
{
    Task DrainAsync(string @namespace, string model, CancellationToken cancellationToken);
}
