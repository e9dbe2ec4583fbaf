namespace ControlPlane.Scheduling.Migration;

/// <summary>Move one running request from <see cref="Source"/> to <see cref="Destination"/>; the source picks which.</summary>
public readonly record struct MigrationOrder(string Source, string Destination, MigrationReason Reason);

/// <summary>A migration under way (ordered, not ended yet), as the planner counts it.</summary>
public readonly record struct MigrationInFlight(string Source, string Destination, MigrationReason Reason, DateTimeOffset StartedAt);
