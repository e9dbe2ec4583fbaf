namespace ControlPlane.Grains.Engines;

/// <summary><c>ControlPlane:Worker</c>: how a worker silo stops.</summary>
public sealed record WorkerConfig
{
    /// <summary>
    /// How long a stopping worker (SIGTERM, pod deletion) waits for its running requests to finish, taking no
    /// new ones, before it leaves the cluster; what is left is resumed elsewhere by its gateways.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
