using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>Removes instances that must not take a request.</summary>
public interface IDispatchFilter
{
    string Name { get; }

    /// <summary>Why dispatch fails when this filter leaves no instance.</summary>
    DispatchRefusal RefusalWhenEmpty { get; }

    bool Admits(in DispatchRequest request, InstanceLoad instance);
}
