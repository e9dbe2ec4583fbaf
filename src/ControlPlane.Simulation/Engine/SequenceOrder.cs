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
        return Engines.OutputRules.CompareWaiting(x.Spec, x.ArrivalOrder, y.Spec, y.ArrivalOrder);
    }
}
