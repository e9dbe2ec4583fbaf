namespace ControlPlane.Power;

/// <summary>
/// What a power domain is and how tightly it is held: its budget, its members (the instances of <see cref="Models"/>, and
/// every instance on one of <see cref="Nodes"/>), its period, and the limits of its caps. A configured domain
/// (<c>ControlPlane:Power:Domains</c>) names models; one from a <c>PowerBudget</c> names the nodes its selector matches.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.PowerDomainSpec")]
public sealed record PowerDomainSpec
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public double BudgetWatts { get; init; }
    [Id(2)] public IReadOnlyList<string> Models { get; init; } = [];
    [Id(3)] public IReadOnlyList<string> Nodes { get; init; } = [];
    [Id(4)] public int PeriodMs { get; init; } = 1000;

    /// <summary>No cap is set below this, watts (a PowerBudget's <c>capping.minimumGpuWatts</c>); 0: the controller's fractions alone.</summary>
    [Id(5)] public double MinimumCapWatts { get; init; }

    /// <summary>The share of the budget kept free, percent (<c>capping.headroomPercent</c>): the controller holds the domain to the rest.</summary>
    [Id(6)] public double HeadroomPercent { get; init; }

    /// <summary>The budget the controller holds the domain to: <see cref="BudgetWatts"/> less the headroom.</summary>
    public double ControlledBudgetWatts => BudgetWatts * (1 - HeadroomPercent / 100);

    /// <summary>What is wrong with the spec, each naming its field as <paramref name="path"/> plus the field's name; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string path)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
            errors.Add($"{path}name must be set");
        if (!(BudgetWatts > 0) || double.IsInfinity(BudgetWatts))
            errors.Add($"{path}budgetWatts must be positive (got {BudgetWatts})");
        if (Models.Count == 0 && Nodes.Count == 0)
            errors.Add($"{path}nodes must name at least one node (or models one model)");
        if (Models.Any(string.IsNullOrWhiteSpace) || Nodes.Any(string.IsNullOrWhiteSpace))
            errors.Add($"{path}nodes and models must not hold empty names");
        if (PeriodMs < 50)
            errors.Add($"{path}periodMs must be at least 50 (got {PeriodMs})");
        if (MinimumCapWatts < 0 || double.IsNaN(MinimumCapWatts))
            errors.Add($"{path}minimumGpuWatts must not be negative (got {MinimumCapWatts})");
        if (HeadroomPercent is < 0 or > 50 || double.IsNaN(HeadroomPercent))
            errors.Add($"{path}headroomPercent must be from 0 to 50 (got {HeadroomPercent})");
        return errors;
    }
}
