namespace ControlPlane.Simulation.Cluster;

/// <summary>What a power domain did over a run: energy, the highest period's draw against the budget, breaches, brakes and caps.</summary>
public sealed record PowerReport(double EnergyJoules, double BudgetWatts, double PeakPeriodWatts, int Periods, int Breaches, int Brakes, int CappedPeriods);
