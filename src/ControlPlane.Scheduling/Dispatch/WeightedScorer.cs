namespace ControlPlane.Scheduling.Dispatch;

/// <summary>A scorer with its weight in a profile.</summary>
public sealed record WeightedScorer(IDispatchScorer Scorer, double Weight);
