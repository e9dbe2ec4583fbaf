namespace ControlPlane.Grains.Placement;

/// <summary>
/// What a silo does. Control silos host the gateway and the control grains (requests, schedulers,
/// dispatchers, power domains); worker silos run engines and host their instance grains. The embedded
/// default is both in one process.
/// </summary>
[Flags]
public enum SiloRoles
{
    None = 0,
    Control = 1,
    Worker = 2,
    All = Control | Worker,
}
