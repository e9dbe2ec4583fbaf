using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>Keeps instances that are ready (not starting, draining or failed).</summary>
public sealed class ReadyFilter : IDispatchFilter
{
    public const string PluginName = "ready";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.NoInstances;

    public bool Admits(in DispatchRequest request, InstanceLoad instance) => instance.Health == InstanceHealth.Ready;
}
