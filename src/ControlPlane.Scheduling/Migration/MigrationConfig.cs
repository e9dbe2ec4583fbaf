namespace ControlPlane.Scheduling.Migration;

/// <summary>
/// <c>ControlPlane:Migration</c>: when the scheduler moves running requests between instances of a model (Llumnix).
/// Usages are virtual (see <see cref="VirtualUsage"/>): blocks in use, plus queued demand, plus headroom kept for
/// priority requests, over capacity; a draining instance's is infinite.
/// </summary>
public sealed record MigrationConfig
{
    /// <summary>Whether the scheduler plans migrations at all (a drain then only waits for requests to finish).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How often the scheduler plans.</summary>
    public TimeSpan Period { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>An instance at or above this virtual usage sheds requests.</summary>
    public double SourceAbove { get; init; } = 0.9;

    /// <summary>An instance at or below this virtual usage (counting what is already moving in) takes them.</summary>
    public double DestinationBelow { get; init; } = 0.6;

    /// <summary>Migrations in flight for the model at once (a draining instance's do not count against it).</summary>
    public int MaxConcurrent { get; init; } = 4;

    /// <summary>Migrations in flight out of one draining instance at once.</summary>
    public int DrainConcurrency { get; init; } = 8;

    /// <summary>KV blocks of headroom counted per priority request held (room for it to grow without preempting).</summary>
    public int PriorityHeadroomBlocks { get; init; }

    /// <summary>
    /// An instance that just took a migration is not a source again for this long, and a request that just moved
    /// does not move again, unless its instance drains: no ping-pong without cause.
    /// </summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Staged copies stop when this many full blocks or fewer are left to copy; the rest move in the stop.</summary>
    public int StopBlocks { get; init; } = 2;

    /// <summary>The most blocks one staged part holds: one export between two of the source's steps (bounds what a stage takes from its loop).</summary>
    public int StageBlocks { get; init; } = 64;

    /// <summary>
    /// Rounds of staged copies before the stop, at most. A round copies every full block written since the last (in
    /// parts of <see cref="StageBlocks"/>); a request that writes blocks faster than they copy still moves.
    /// </summary>
    public int MaxRounds { get; init; } = 8;

    /// <summary>The longest a migration may take from its start to its commit before it is called off.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>What is wrong with the configuration under <paramref name="key"/> (e.g. <c>ControlPlane:Migration</c>); empty when nothing is.</summary>
    public IReadOnlyList<string> Validate(string key)
    {
        var errors = new List<string>();
        if (Period <= TimeSpan.Zero)
            errors.Add($"{key}:Period must be positive (got {Period})");
        if (DestinationBelow < 0 || SourceAbove <= DestinationBelow)
            errors.Add($"{key}:SourceAbove ({SourceAbove}) must be above {key}:DestinationBelow ({DestinationBelow}), which must not be negative");
        if (MaxConcurrent < 1)
            errors.Add($"{key}:MaxConcurrent must be at least 1 (got {MaxConcurrent})");
        if (DrainConcurrency < 1)
            errors.Add($"{key}:DrainConcurrency must be at least 1 (got {DrainConcurrency})");
        if (StopBlocks < 0)
            errors.Add($"{key}:StopBlocks must not be negative (got {StopBlocks})");
        if (StageBlocks < 1)
            errors.Add($"{key}:StageBlocks must be at least 1 (got {StageBlocks})");
        if (MaxRounds < 0)
            errors.Add($"{key}:MaxRounds must not be negative (got {MaxRounds})");
        if (PriorityHeadroomBlocks < 0)
            errors.Add($"{key}:PriorityHeadroomBlocks must not be negative (got {PriorityHeadroomBlocks})");
        if (Timeout <= TimeSpan.Zero)
            errors.Add($"{key}:Timeout must be positive (got {Timeout})");
        if (Cooldown < TimeSpan.Zero)
            errors.Add($"{key}:Cooldown must not be negative (got {Cooldown})");
        return errors;
    }
}
