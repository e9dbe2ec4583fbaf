namespace ControlPlane.Scheduling.Power;

/// <summary>The controller's answer for one period: the level, and the cap in watts for each capped instance (absent: uncapped).</summary>
public sealed record PowerDecision(PowerLevel Level, IReadOnlyDictionary<string, double> Caps, double DrawWatts, bool BrakeStarted);
