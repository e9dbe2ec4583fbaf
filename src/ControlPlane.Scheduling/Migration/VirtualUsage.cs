using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Migration;

/// <summary>
/// Llumnix's virtual usage of an instance: the KV blocks it uses, plus the blocks its queued requests need (so an
/// instance with a request that fits nowhere goes above 1 and sheds load: de-fragmentation), plus headroom kept per
/// priority request, over its capacity. A draining or failed instance's usage is infinite: it sheds everything.
/// </summary>
public static class VirtualUsage
{
    public static double Of(InstanceLoad load, int priorityHeadroomBlocks, int incomingBlocks = 0)
    {
        if (load.Health is InstanceHealth.Draining or InstanceHealth.Failed)
            return double.PositiveInfinity;
        if (load.TotalKvBlocks <= 0)
            return double.PositiveInfinity;
        var blocks = (double)load.UsedKvBlocks + load.WaitingKvBlocks + (long)load.PriorityRequests * priorityHeadroomBlocks + incomingBlocks;
        return blocks / load.TotalKvBlocks;
    }

    /// <summary>
    /// Whether a queued request on the instance cannot start for want of blocks (what de-fragmentation frees): requests
    /// wait and the blocks they need exceed the free ones.
    /// </summary>
    public static bool Fragmented(InstanceLoad load) =>
        load.WaitingRequests > 0 && load.WaitingKvBlocks > load.TotalKvBlocks - load.UsedKvBlocks;
}
