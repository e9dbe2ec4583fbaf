using ControlPlane.Instances;
using Orleans.Runtime.Placement;

namespace ControlPlane.Grains.Placement;

/// <summary>
/// Finds the active silo whose name is the pod of the instance id, among the silos that can host the grain
/// (workers). An instance whose pod is not in the cluster cannot be placed: the call fails at once, so the
/// caller tries another instance instead of waking a grain with no engine behind it. An id without a pod
/// (tests, hand-made ids) stays on the calling silo when it can host the grain.
/// </summary>
public sealed class InstancePlacementDirector(IClusterMembershipService membership) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        var instanceId = target.GrainIdentity.Key.ToString()!;
        var pod = InstanceIds.PodOf(instanceId);
        if (pod is null)
            return Task.FromResult(compatible.Contains(context.LocalSilo) ? context.LocalSilo : compatible[Random.Shared.Next(compatible.Length)]);
        var members = membership.CurrentSnapshot.Members;
        foreach (var silo in compatible)
        {
            if (members.TryGetValue(silo, out var member) && member.Status == SiloStatus.Active && member.Name == pod)
                return Task.FromResult(silo);
        }
        throw new OrleansException($"instance '{instanceId}' cannot be placed: no active worker silo is named '{pod}'");
    }
}
