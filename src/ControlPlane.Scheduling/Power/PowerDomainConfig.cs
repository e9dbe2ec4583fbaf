namespace ControlPlane.Scheduling.Power;

/// <summary>One power domain: its budget, the models whose instances draw from it, and its control period.</summary>
public sealed record PowerDomainConfig
{
    public string Name { get; init; } = "";
    public double BudgetWatts { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public int PeriodMs { get; init; } = 1000;
}
