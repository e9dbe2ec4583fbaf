using ControlPlane.Instances;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Migration;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Scheduling;

/// <summary>
/// The pool balancer's half of the scheduler: every <see cref="PoolBalanceConfig.Period"/> it runs the
/// <see cref="PoolBalancer"/> over the fresh loads; an instance it moves to another role first drains (it takes no new
/// requests, and the migration planner moves its decoding requests away), then switches and takes requests again.
/// </summary>
public sealed partial class SchedulerGrain
{
    /// <summary>A role change that has not finished draining after this long switches anyway (what is left finishes in the new role).</summary>
    public static readonly TimeSpan RoleChangeDeadline = TimeSpan.FromSeconds(60);

    private PoolBalancer? _balancer;
    private readonly Dictionary<string, (RoleChange Change, DateTimeOffset Since)> _roleChanges = new(StringComparer.Ordinal);

    private async Task BalancePoolsAsync(CancellationToken cancellationToken)
    {
        _balancer ??= new PoolBalancer(disaggregation.Value.Pools);
        var now = time.GetUtcNow();
        var loads = FreshLoads(now);
        foreach (var (id, (change, since)) in _roleChanges.ToArray())
        {
            var load = loads.FirstOrDefault(l => l.InstanceId == id);
            if (load is null)
            {
                _roleChanges.Remove(id); // gone: nothing to switch
                continue;
            }
            if (load.RunningRequests + load.WaitingRequests > 0 && now - since < RoleChangeDeadline)
                continue;
            var instance = GrainFactory.GetGrain<IInstanceGrain>(id);
            try
            {
                await instance.SetRoleAsync(change.To, cancellationToken);
                await instance.ResumeAsync(cancellationToken);
                LogRoleChanged(logger, id, change.From, change.To, (now - since).TotalSeconds);
            }
            catch (Exception ex)
            {
                LogRoleChangeFailed(logger, ex, id);
            }
            _roleChanges.Remove(id);
        }
        if (_balancer.Plan(loads, _roleChanges.Keys, now) is not { } next)
            return;
        try
        {
            await GrainFactory.GetGrain<IInstanceGrain>(next.InstanceId).DrainAsync(cancellationToken);
            _roleChanges[next.InstanceId] = (next, now);
            LogRoleChanging(logger, next.InstanceId, next.From, next.To, next.Why);
        }
        catch (Exception ex)
        {
            LogRoleChangeFailed(logger, ex, next.InstanceId);
        }
    }

    public Task<SchedulerActivity> GetActivityAsync(CancellationToken cancellationToken = default) => Task.FromResult(new SchedulerActivity
    {
        Migrations = [.. _migrations.Values.Select(m => new MovingRequest(m.Source, m.Destination, m.Reason.Name(), m.StartedAt))],
        RoleChanges = [.. _roleChanges.Select(c => new KeyValuePair<string, InstanceRole>(c.Key, c.Value.Change.To))],
    });

    [LoggerMessage(10, LogLevel.Information, "Pool balance: instance {InstanceId} drains to go from {From} to {To}: {Why}")]
    private static partial void LogRoleChanging(ILogger logger, string instanceId, InstanceRole from, InstanceRole to, string why);

    [LoggerMessage(11, LogLevel.Information, "Pool balance: instance {InstanceId} went from {From} to {To} after {Seconds:F1} s of draining")]
    private static partial void LogRoleChanged(ILogger logger, string instanceId, InstanceRole from, InstanceRole to, double seconds);

    [LoggerMessage(12, LogLevel.Warning, "Pool balance: the role change of instance {InstanceId} failed")]
    private static partial void LogRoleChangeFailed(ILogger logger, Exception exception, string instanceId);
}
