namespace ControlPlane.Scheduling.Power;

/// <summary>The <c>ControlPlane:Power</c> section: the power domains and the controller every domain runs.</summary>
public sealed record PowerConfig
{
    public IReadOnlyList<PowerDomainConfig> Domains { get; init; } = [];
    public PowerControllerConfig Controller { get; init; } = new();

    public IReadOnlyList<string> Validate(string path)
    {
        var errors = new List<string>(Controller.Validate($"{path}:Controller"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Domains.Count; i++)
        {
            var d = Domains[i];
            if (string.IsNullOrWhiteSpace(d.Name) || !names.Add(d.Name))
                errors.Add($"{path}:Domains:{i}:Name must be set and unique (got '{d.Name}')");
            if (d.BudgetWatts <= 0)
                errors.Add($"{path}:Domains:{i}:BudgetWatts must be positive (got {d.BudgetWatts})");
            if (d.Models.Count == 0)
                errors.Add($"{path}:Domains:{i}:Models must name at least one model");
            if (d.PeriodMs < 50)
                errors.Add($"{path}:Domains:{i}:PeriodMs must be at least 50 (got {d.PeriodMs})");
        }
        return errors;
    }
}
