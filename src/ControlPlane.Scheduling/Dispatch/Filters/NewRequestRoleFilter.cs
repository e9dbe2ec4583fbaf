using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>
/// Keeps instances a new request may decode on: mixed and decode ones. Prefill instances get prompts only from the
/// disaggregation decider, which hands each one on to the decode instance chosen here.
/// </summary>
public sealed class NewRequestRoleFilter : IDispatchFilter
{
    public const string PluginName = "new-request-role";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.NoInstances;

    public bool Admits(in DispatchRequest request, InstanceLoad instance) => instance.Role != InstanceRole.Prefill;
}
