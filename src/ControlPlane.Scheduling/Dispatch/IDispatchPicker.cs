namespace ControlPlane.Scheduling.Dispatch;

/// <summary>Chooses one candidate from the weighted scores; one picker per profile.</summary>
public interface IDispatchPicker
{
    string Name { get; }

    /// <summary>Returns the index of the chosen candidate; <paramref name="scores"/> is never empty.</summary>
    int Pick(ReadOnlySpan<double> scores);
}
