namespace ControlPlane.Simulation.Engine;

/// <summary>Waiting order: service class first, then higher priority, then earlier arrival.</summary>
internal sealed class SequenceOrder : IComparer<SimulatedSequence>
{
    public static SequenceOrder Instance { get; } = new();

    public int Compare(SimulatedSequence? x, SimulatedSequence? y)
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
