namespace ControlPlane.Engines;

/// <summary>
/// Where a request stands for a migration: in the running batch or suspended, decoding (every token but the newest
/// computed), its full computed blocks (they never change again), the blocks it holds, and how often it was
/// preempted (a staged copy made before a preemption is stale).
/// </summary>
public readonly record struct MigrationProbe(bool Running, bool Suspended, bool Decoding, int FullBlocks, int HeldBlocks, int Preemptions);
