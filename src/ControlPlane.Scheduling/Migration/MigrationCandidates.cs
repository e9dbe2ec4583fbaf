using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Migration;

/// <summary>A running request a source could move: its class and priority, the blocks it holds, and whether it arrived by migration lately.</summary>
public readonly record struct MigrationCandidate(string RequestId, ServiceClass Class, int Priority, int Blocks, bool MovedLately);

/// <summary>
/// Which request a source gives up (Llumnix moves the cheapest, lowest-priority ones): not one that arrived by
/// migration within the cooldown unless the instance drains (no ping-pong without cause); the least important class
/// first, then the lowest priority, then the fewest blocks. The engine runner and the simulator both pick with it.
/// </summary>
public static class MigrationCandidates
{
    public static MigrationCandidate? Pick(IEnumerable<MigrationCandidate> candidates, MigrationReason reason)
    {
        MigrationCandidate? best = null;
        foreach (var c in candidates)
        {
            if (c.MovedLately && reason != MigrationReason.Drain)
                continue;
            if (best is not { } b || Easier(c, b))
                best = c;
        }
        return best;
    }

    private static bool Easier(MigrationCandidate a, MigrationCandidate b)
    {
        var c = b.Class.CompareTo(a.Class); // a later class is less important: it goes first
        if (c != 0)
            return c < 0;
        c = a.Priority.CompareTo(b.Priority);
        if (c != 0)
            return c < 0;
        return a.Blocks < b.Blocks;
    }
}
