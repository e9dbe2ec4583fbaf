namespace ControlPlane.LoadGen.Reports;

/// <summary>Service-level objectives a request must meet to count toward goodput; null means no bound.</summary>
public sealed record Slo(double? TimeToFirstTokenMs, double? TimePerOutputTokenMs);
