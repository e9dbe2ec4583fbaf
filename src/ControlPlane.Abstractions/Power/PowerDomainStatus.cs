namespace ControlPlane.Power;

/// <summary>A power domain as its grain last saw it: draw against budget, the level, the caps in force, brakes so far.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.PowerDomainStatus")]
public sealed record PowerDomainStatus
{
    [Id(0)] public required string Domain { get; init; }
    [Id(1)] public double BudgetWatts { get; init; }
    [Id(2)] public double DrawWatts { get; init; }

    /// <summary>The controller's level: Uncapped, BatchCapped, StandardCapped, AllCapped or Brake.</summary>
    [Id(3)] public string Level { get; init; } = "Uncapped";
    [Id(4)] public IReadOnlyDictionary<string, double> Caps { get; init; } = new Dictionary<string, double>();
    [Id(5)] public int Brakes { get; init; }
    [Id(6)] public int Instances { get; init; }
    [Id(7)] public DateTimeOffset UpdatedAt { get; init; }
}
