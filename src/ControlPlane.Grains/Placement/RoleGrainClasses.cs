using ControlPlane.Grains.Dispatch;
using ControlPlane.Grains.Instances;
using ControlPlane.Grains.Power;
using ControlPlane.Grains.Requests;
using ControlPlane.Grains.Scheduling;
using Orleans.Configuration;

namespace ControlPlane.Grains.Placement;

/// <summary>
/// A silo offers only the grain classes of its roles, so Orleans places each grain on a silo of the right
/// role: the cluster manifest says which silos can host which class.
/// </summary>
public static class RoleGrainClasses
{
    public static readonly Type[] Control = [typeof(RequestGrain), typeof(SchedulerGrain), typeof(DispatcherGrain), typeof(PowerDomainGrain), typeof(KvCache.KvIndexGrain)];
    public static readonly Type[] Worker = [typeof(InstanceGrain)];

    public static void Restrict(GrainTypeOptions options, SiloRoles roles)
    {
        if (!roles.HasFlag(SiloRoles.Control))
            options.Classes.ExceptWith(Control);
        if (!roles.HasFlag(SiloRoles.Worker))
            options.Classes.ExceptWith(Worker);
    }
}
