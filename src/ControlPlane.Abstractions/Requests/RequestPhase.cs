namespace ControlPlane.Requests;

/// <summary>Where a request is in its lifecycle; see <c>docs/architecture.md</c> for the transitions.</summary>
[GenerateSerializer]
public enum RequestPhase
{
    Queued,
    Prefilling,
    Transferring,
    Decoding,
    Migrating,
    Finished,
    Failed,
    Cancelled,
}
