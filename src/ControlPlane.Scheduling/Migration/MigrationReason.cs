namespace ControlPlane.Scheduling.Migration;

/// <summary>Why a request moves (Llumnix's uses of migration).</summary>
public enum MigrationReason
{
    /// <summary>From a loaded instance to an idle one.</summary>
    Balance,

    /// <summary>A queued request fits nowhere: running ones move out to make it room.</summary>
    Defragment,

    /// <summary>Keeps headroom free where priority requests run.</summary>
    Priority,

    /// <summary>The instance is going (scale-in, pod deletion, node drain): everything moves out.</summary>
    Drain,

    /// <summary>
    /// Prefill/decode disaggregation: a split request goes from its prefill instance to its decode instance once its
    /// prompt is computed. The dispatcher decides it, not the planner; it uses the same staged copy.
    /// </summary>
    Handoff,
}

public static class MigrationReasons
{
    public static string Name(this MigrationReason reason) => reason switch
    {
        MigrationReason.Balance => "balance",
        MigrationReason.Defragment => "defragment",
        MigrationReason.Priority => "priority",
        MigrationReason.Drain => "drain",
        MigrationReason.Handoff => "handoff",
        _ => "unknown",
    };
}
