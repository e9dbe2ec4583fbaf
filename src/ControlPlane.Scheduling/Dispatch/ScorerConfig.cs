namespace ControlPlane.Scheduling.Dispatch;

/// <summary>A scorer named in configuration, with its weight.</summary>
public sealed record ScorerConfig
{
    public string Name { get; init; } = "";
    public double Weight { get; init; } = 1;
}
