using ControlPlane.Instances;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ControlPlane.Grains.Scheduling;

/// <summary>
/// One model's instances and their latest loads. Hosts report in batches about every 100 ms; dispatchers
/// copy the snapshot at the same rate. An instance that stops reporting for <see cref="StaleAfter"/> is
/// left out of snapshots until it reports again. Its state lives in memory: when it is activated anew (its
/// silo or its directory entry was lost), hosts learn from their next report that it does not know their
/// instances, and register them again within a period.
/// </summary>
public sealed partial class SchedulerGrain(TimeProvider time, IOptions<MigrationConfig> migration, IOptions<DisaggregationConfig> disaggregation,
    IOptions<AutoscaleConfig> autoscale, ILogger<SchedulerGrain> logger) : Grain, ISchedulerGrain
{
    // On whenever it is asked: whether to plan at all is this grain's call (MigrationOn: the model's setting over the silo's).
    private readonly MigrationPlanner _planner = new(migration.Value with { Enabled = true });
    private readonly Dictionary<long, MigrationInFlight> _migrations = [];
    private long _migrationKeys;

    /// <summary>Starts the planners that are on: migrations, replicas (autoscaling) and pool roles, each on its own period.</summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (migration.Value.Enabled)
            StartMigrations();
        if (autoscale.Value.Enabled)
            Every(autoscale.Value.Period, AutoscaleAsync);
        if (disaggregation.Value.Pools.Enabled)
            Every(disaggregation.Value.Pools.Period, BalancePoolsAsync);
        return Task.CompletedTask;
    }

    /// <summary>A planner's timer: interleaved with the grain's calls, and keeping the grain active.</summary>
    private void Every(TimeSpan period, Func<CancellationToken, Task> plan) => this.RegisterGrainTimer(plan, new GrainTimerCreationOptions
    {
        DueTime = period,
        Period = period,
        Interleave = true,
        KeepAlive = true,
    });

    private bool _migrationTimer;

    /// <summary>The migration planner's timer, once (at activation where the silo enables migration, else when a model's instance asks for it).</summary>
    private void StartMigrations()
    {
        if (_migrationTimer)
            return;
        _migrationTimer = true;
        Every(migration.Value.Period, PlanMigrationsAsync);
    }

    /// <summary>
    /// Whether the model's requests migrate: as its instances' configuration says (any that says no wins, for a model
    /// mid-way through a rolling change), else as the silo's <paramref name="configured"/>.
    /// </summary>
    public static bool MigrationOn(IEnumerable<InstanceDescriptor> instances, bool configured)
    {
        var on = (bool?)null;
        foreach (var instance in instances)
        {
            if (instance.Migration == false)
                return false;
            on ??= instance.Migration;
        }
        return on ?? configured;
    }

    /// <summary>
    /// One planning round over the fresh loads: each order goes to its source instance, which picks the request and
    /// moves it; the order counts as in flight until the source answers.
    /// </summary>
    private Task PlanMigrationsAsync(CancellationToken cancellationToken)
    {
        if (!MigrationOn(_instances.Values, migration.Value.Enabled))
            return Task.CompletedTask;
        var now = time.GetUtcNow();
        foreach (var order in _planner.Plan(FreshLoads(now), _migrations.Values, now))
        {
            var key = ++_migrationKeys;
            _migrations[key] = new MigrationInFlight(order.Source, order.Destination, order.Reason, now);
            _ = MigrateAsync(key, order);
        }
        return Task.CompletedTask;
    }

    private async Task MigrateAsync(long key, MigrationOrder order)
    {
        try
        {
            var result = await GrainFactory.GetGrain<IInstanceGrain>(order.Source).MigrateOutAsync(order.Destination, order.Reason.Name());
            if (result.Outcome != MigrationOutcome.NoCandidate)
                LogMigrated(logger, order.Reason.Name(), order.Source, order.Destination, result.RequestId, result.Outcome, result.Stop.TotalMilliseconds, result.Error);
        }
        catch (Exception ex)
        {
            LogOrderFailed(logger, ex, order.Source, order.Destination);
        }
        finally
        {
            _migrations.Remove(key);
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Migration ({Reason}) from {Source} to {Destination} of {RequestId}: {Outcome}, stop {StopMs:F1} ms {Error}")]
    private static partial void LogMigrated(ILogger logger, string reason, string source, string destination, string? requestId, MigrationOutcome outcome, double stopMs, string? error);

    [LoggerMessage(2, LogLevel.Warning, "Migration order from {Source} to {Destination} failed")]
    private static partial void LogOrderFailed(ILogger logger, Exception exception, string source, string destination);

    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(5);
    private readonly Dictionary<string, InstanceDescriptor> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceLoad> _loads = new(StringComparer.Ordinal);
    private LoadSnapshot _snapshot = LoadSnapshot.Empty;
    private bool _dirty;
    private long _version;

    public Task RegisterInstanceAsync(InstanceDescriptor instance, CancellationToken cancellationToken = default)
    {
        _instances[instance.InstanceId] = instance;
        if (instance.Migration == true)
            StartMigrations();
        var restore = RoleToRestore(instance);
        if (restore is { } given)
            RestoreRole(instance.InstanceId, given);
        _loads[instance.InstanceId] = new InstanceLoad
        {
            InstanceId = instance.InstanceId,
            Role = restore ?? instance.Role,
            TotalKvBlocks = instance.TotalKvBlocks,
            KvBlockSize = instance.KvBlockSize,
            ReportedAt = time.GetUtcNow(),
        };
        _dirty = true;
        return Task.CompletedTask;
    }

    public Task UnregisterInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        _dirty |= _instances.Remove(instanceId) | _loads.Remove(instanceId);
        _planner.Retain(_instances.Keys);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ReportLoadAsync(IReadOnlyList<InstanceLoad> loads, CancellationToken cancellationToken = default)
    {
        List<string>? unknown = null;
        foreach (var load in loads)
        {
            if (_instances.ContainsKey(load.InstanceId))
            {
                _loads[load.InstanceId] = load;
                CheckRestore(load);
            }
            else
                (unknown ??= []).Add(load.InstanceId);
        }
        _dirty = true;
        return Task.FromResult<IReadOnlyList<string>>(unknown ?? []);
    }

    public Task<LoadSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_dirty || now - _snapshot.TakenAt > StaleAfter)
        {
            _snapshot = new LoadSnapshot(++_version, now, FreshLoads(now));
            _dirty = false;
        }
        return Task.FromResult(_snapshot);
    }

    /// <summary>The loads reported within <see cref="StaleAfter"/>, by instance id: what snapshots and the planner see.</summary>
    private InstanceLoad[] FreshLoads(DateTimeOffset now) =>
        [.. _loads.Values.Where(l => now - l.ReportedAt <= StaleAfter).OrderBy(l => l.InstanceId, StringComparer.Ordinal)];

    public Task<IReadOnlyList<InstanceDescriptor>> GetInstancesAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<InstanceDescriptor>>([.. _instances.Values.OrderBy(i => i.InstanceId, StringComparer.Ordinal)]);
}
