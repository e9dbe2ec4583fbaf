using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>Keeps instances whose whole KV capacity could hold the request at its longest.</summary>
public sealed class FitsKvCapacityFilter : IDispatchFilter
{
    public const string PluginName = "fits-kv-capacity";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.TooLarge;

    public bool Admits(in DispatchRequest request, InstanceLoad instance) =>
        request.PromptBlocks(instance.KvBlockSize) + 1 <= instance.TotalKvBlocks;
}
