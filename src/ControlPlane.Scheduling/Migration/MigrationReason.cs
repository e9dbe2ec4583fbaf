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
}

public static class MigrationReasons
{
    public static string Name(this MigrationReason reason) => reason switch
    {
        MigrationReason.Balance => "balance",
        MigrationReason.Defragment => "defragment",
        MigrationReason.Priority => "priority",
        MigrationReason.Drain => "drain",
        _ => "unknown",
    };
}
