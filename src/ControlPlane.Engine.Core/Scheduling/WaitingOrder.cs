using ControlPlane.Engine.Core.Requests;

namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>The order in which waiting requests are admitted: service class, then higher priority, then arrival.</summary>
public sealed class WaitingOrder : IComparer<EngineRequest>
{
    public static WaitingOrder Instance { get; } = new();

    public int Compare(EngineRequest? x, EngineRequest? y)
    {
        if (ReferenceEquals(x, y))
            return 0;
        if (x is null)
            return -1;
        if (y is null)
            return 1;
        var c = x.Spec.ServiceClass.CompareTo(y.Spec.ServiceClass);
        if (c != 0)
            return c;
        c = y.Spec.Priority.CompareTo(x.Spec.Priority);
        return c != 0 ? c : x.ArrivalOrder.CompareTo(y.ArrivalOrder);
    }
}
