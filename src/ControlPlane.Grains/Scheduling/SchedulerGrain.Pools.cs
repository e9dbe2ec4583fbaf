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

    /// <summary>
    /// Roles given to instances after they started (by the balancer or by hand), with the role each started in then: an
    /// instance that registers again in that same role (its worker restarted) is set to the given one again.
    /// </summary>
    private readonly Dictionary<string, (InstanceRole Started, InstanceRole Given)> _givenRoles = new(StringComparer.Ordinal);

    public async Task AssignRoleAsync(string instanceId, InstanceRole role, CancellationToken cancellationToken = default)
    {
        if (!_instances.ContainsKey(instanceId))
            throw new ArgumentException($"'{instanceId}' is not an instance of '{this.GetPrimaryKeyString()}'", nameof(instanceId));
        await GrainFactory.GetGrain<IInstanceGrain>(instanceId).SetRoleAsync(role, cancellationToken);
        RememberRole(instanceId, role);
    }

    /// <summary>
    /// Roles to set again on instances that registered in the role they started in, until their reports show it: the
    /// first call may come before the control silo sees the restarted worker's silo (its placement then refuses).
    /// </summary>
    private readonly Dictionary<string, (InstanceRole Role, bool Calling)> _restores = new(StringComparer.Ordinal);

    private void RememberRole(string instanceId, InstanceRole role)
    {
        _restores.Remove(instanceId); // a newer decision
        if (!_instances.TryGetValue(instanceId, out var instance))
            return;
        if (role == instance.Role)
            _givenRoles.Remove(instanceId); // back in the role it starts in: nothing to restore
        else
            _givenRoles[instanceId] = (instance.Role, role);
    }

    /// <summary>
    /// On a registration: the role given to the instance before, when it starts again in the role it started in then (its
    /// worker restarted, or this scheduler forgot it); null otherwise (none given, or its pool's role changed since).
    /// </summary>
    private InstanceRole? RoleToRestore(InstanceDescriptor instance)
    {
        if (!_givenRoles.TryGetValue(instance.InstanceId, out var given))
            return null;
        if (given.Started == instance.Role)
            return given.Given;
        _givenRoles.Remove(instance.InstanceId);
        return null;
    }

    /// <summary>Sets the role again, once at a time per instance; a failed call is made again at its next report.</summary>
    private void RestoreRole(string instanceId, InstanceRole role)
    {
        if (_restores.TryGetValue(instanceId, out var pending) && pending.Calling && pending.Role == role)
            return;
        _restores[instanceId] = (role, true);
        _ = RestoreRoleAsync(instanceId, role);
    }

    private async Task RestoreRoleAsync(string instanceId, InstanceRole role)
    {
        try
        {
            await GrainFactory.GetGrain<IInstanceGrain>(instanceId).SetRoleAsync(role);
            LogRoleRestored(logger, instanceId, role);
        }
        catch (Exception ex)
        {
            LogRoleChangeFailed(logger, ex, instanceId);
        }
        if (_restores.TryGetValue(instanceId, out var pending) && pending.Role == role)
            _restores[instanceId] = (role, false);
    }

    /// <summary>On a load report: a restore the instance does not show yet is made again; one it shows is done.</summary>
    private void CheckRestore(InstanceLoad load)
    {
        if (!_restores.TryGetValue(load.InstanceId, out var pending))
            return;
        if (load.Role == pending.Role)
            _restores.Remove(load.InstanceId);
        else if (!pending.Calling)
            RestoreRole(load.InstanceId, pending.Role);
    }
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
                RememberRole(id, change.To);
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

    [LoggerMessage(13, LogLevel.Information, "Instance {InstanceId} registered in the role it started in; set to {Role} again, the role it was given")]
    private static partial void LogRoleRestored(ILogger logger, string instanceId, InstanceRole role);

    [LoggerMessage(12, LogLevel.Warning, "Pool balance: the role change of instance {InstanceId} failed")]
    private static partial void LogRoleChangeFailed(ILogger logger, Exception exception, string instanceId);
}
