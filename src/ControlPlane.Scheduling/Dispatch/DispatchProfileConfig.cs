namespace ControlPlane.Scheduling.Dispatch;

/// <summary>A dispatch profile as users write it: plugin names, scorer weights, one picker.</summary>
public sealed record DispatchProfileConfig
{
    public IReadOnlyList<string> Filters { get; init; } = [];
    public IReadOnlyList<ScorerConfig> Scorers { get; init; } = [];
    public string Picker { get; init; } = "";
}
