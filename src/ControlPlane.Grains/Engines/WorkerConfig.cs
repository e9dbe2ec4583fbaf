namespace ControlPlane.Grains.Engines;

/// <summary><c>ControlPlane:Worker</c>: how a worker silo stops.</summary>
public sealed record WorkerConfig
{
    /// <summary>
    /// How long a stopping worker (SIGTERM, pod deletion) waits for its running requests to finish, taking no
    /// new ones, before it leaves the cluster; what is left is resumed elsewhere by its gateways.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The port of this worker's KV data endpoint (migrations into its engines stream their blocks there); 0 picks a
    /// free one, -1 serves none (engines here then take no migration from another worker).
    /// </summary>
    public int KvPort { get; init; }

    /// <summary>The host other workers reach the KV endpoint at; empty: the silo's own address.</summary>
    public string KvHost { get; init; } = "";
}
