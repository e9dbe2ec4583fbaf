using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>Keeps instances that take new requests: mixed and prefill ones (decode instances get work by KV transfer).</summary>
public sealed class NewRequestRoleFilter : IDispatchFilter
{
    public const string PluginName = "new-request-role";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.NoInstances;

    public bool Admits(in DispatchRequest request, InstanceLoad instance) => instance.Role != InstanceRole.Decode;
}
