using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>Rates every candidate in [0, 1]; higher is better. The profile weights and sums the scores.</summary>
public interface IDispatchScorer
{
    string Name { get; }

    void Score(in DispatchRequest request, ReadOnlySpan<InstanceLoad> candidates, Span<double> scores);
}
