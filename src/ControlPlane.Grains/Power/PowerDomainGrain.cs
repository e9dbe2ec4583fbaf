using ControlPlane.Instances;
using ControlPlane.Power;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Power;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ControlPlane.Grains.Power;

/// <summary>
/// One power domain's control loop (POLCA): every period it reads the draw its instances reported with their
/// load, runs the pure <see cref="PowerController"/> (the one the simulator runs), and sends each instance
/// whose cap changed its new cap. Its members are the instances of its models and every instance on one of its nodes
/// (as the model directory lists them). Stays active while it runs.
/// </summary>
public sealed partial class PowerDomainGrain(IOptions<PowerConfig> options, TimeProvider time, ILogger<PowerDomainGrain> logger) : Grain, IPowerDomainGrain
{
    private readonly Dictionary<string, double?> _sent = new(StringComparer.Ordinal);
    private PowerController? _controller;
    private PowerDomainSpec? _domain;
    private bool _fromBudget;
    private IGrainTimer? _timer;
    private PowerDomainStatus? _status;

    public Task EnsureRunningAsync(CancellationToken cancellationToken = default)
    {
        if (_timer is not null)
            return Task.CompletedTask;
        var name = this.GetPrimaryKeyString();
        var configured = options.Value.Domains.FirstOrDefault(d => d.Name == name)
            ?? throw new InvalidOperationException($"power domain '{name}' is not in ControlPlane:Power:Domains");
        Start(new PowerDomainSpec { Name = name, BudgetWatts = configured.BudgetWatts, Models = configured.Models, PeriodMs = configured.PeriodMs });
        return Task.CompletedTask;
    }

    public Task ConfigureAsync(PowerDomainSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Name != this.GetPrimaryKeyString())
            throw new ArgumentException($"the spec of '{spec.Name}' was sent to domain '{this.GetPrimaryKeyString()}'", nameof(spec));
        if (spec.Validate("") is [var error, ..])
            throw new ArgumentException(error, nameof(spec));
        _fromBudget = true;
        if (_timer is not null && _domain!.PeriodMs == spec.PeriodMs)
            _domain = spec; // the next period reads the new budget and members; the controller keeps its level and hysteresis
        else
        {
            _timer?.Dispose();
            _timer = null;
            Start(spec);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        _timer?.Dispose();
        _timer = null;
        var capped = _sent.Where(s => s.Value is not null).Select(s => s.Key).ToList();
        await ReleaseAsync(capped, cancellationToken);
        if (_domain is { } domain)
            LogStopped(logger, domain.Name, capped.Count);
        _status = null;
        _domain = null;
        DeactivateOnIdle();
    }

    public Task<PowerDomainStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_status ?? new PowerDomainStatus { Domain = this.GetPrimaryKeyString(), BudgetWatts = _domain?.BudgetWatts ?? 0 });

    private void Start(PowerDomainSpec spec)
    {
        _domain = spec;
        _controller = new PowerController(options.Value.Controller);
        var period = TimeSpan.FromMilliseconds(spec.PeriodMs);
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (_fromBudget && await GrainFactory.GetGrain<IPowerDomainsGrain>(0).IsListedAsync(this.GetPrimaryKeyString(), cancellationToken) == false)
        {
            await StopAsync(cancellationToken); // its PowerBudget went while the set was being rebuilt
            return;
        }
        var domain = _domain!;
        var loads = await MembersAsync(domain, cancellationToken);
        var decision = _controller!.Decide(domain.ControlledBudgetWatts, [.. loads.Select(l => new InstancePower(l.InstanceId, l.DrawWatts, l.MaxWatts, MostImportant(l)))]);
        var caps = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var load in loads)
        {
            double? cap = decision.Caps.TryGetValue(load.InstanceId, out var c) ? Math.Min(load.MaxWatts, Math.Max(c, domain.MinimumCapWatts)) : null;
            if (cap is { } set)
                caps[load.InstanceId] = set;
            // Sent before and in force as the instance reports it: nothing to do. Sent but not in force (a restarted worker,
            // a lost call): sent again, so the cap converges on the domain's decision. Another domain's lower cap on the
            // same GPU is in force for this one too (the GPU obeys the lowest): they do not undo each other in turn.
            if (_sent.TryGetValue(load.InstanceId, out var sent) && sent == cap && InForce(load.PowerCapWatts, cap))
                continue;
            try
            {
                await GrainFactory.GetGrain<IInstanceGrain>(load.InstanceId).SetPowerCapAsync(domain.Name, cap, cancellationToken);
                _sent[load.InstanceId] = cap;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCapFailed(logger, ex, load.InstanceId, domain.Name); // retried next period: _sent is unchanged
            }
        }
        // Instances that left the domain (a node taken out of its selector, a model out of its list) are not held to its budget.
        var members = loads.Select(l => l.InstanceId).ToHashSet(StringComparer.Ordinal);
        await ReleaseAsync(_sent.Keys.Where(id => !members.Contains(id)).ToList(), cancellationToken);
        if (decision.BrakeStarted)
            LogBrake(logger, domain.Name, decision.DrawWatts, domain.ControlledBudgetWatts);
        _status = new PowerDomainStatus
        {
            Domain = domain.Name,
            BudgetWatts = domain.BudgetWatts,
            DrawWatts = decision.DrawWatts,
            Level = decision.Level.ToString(),
            Caps = caps,
            Brakes = _controller.Brakes,
            Instances = loads.Count,
            UpdatedAt = time.GetUtcNow(),
        };
    }

    /// <summary>The domain's instances with a power reading: those of its models and those on its nodes, each once.</summary>
    private async Task<List<InstanceLoad>> MembersAsync(PowerDomainSpec domain, CancellationToken cancellationToken)
    {
        var models = new HashSet<string>(domain.Models, StringComparer.Ordinal);
        var onNodes = new HashSet<string>(StringComparer.Ordinal);
        if (domain.Nodes.Count > 0)
        {
            var nodes = new HashSet<string>(domain.Nodes, StringComparer.Ordinal);
            foreach (var (model, instances) in await GrainFactory.GetGrain<IModelDirectoryGrain>(0).GetModelsAsync(cancellationToken))
            {
                foreach (var entry in instances.Where(e => nodes.Contains(e.Node)))
                {
                    onNodes.Add(entry.InstanceId);
                    models.Add(model);
                }
            }
        }
        var loads = new Dictionary<string, InstanceLoad>(StringComparer.Ordinal);
        foreach (var model in models.Order(StringComparer.Ordinal))
        {
            var whole = domain.Models.Contains(model);
            foreach (var load in (await GrainFactory.GetGrain<ISchedulerGrain>(model).GetSnapshotAsync(cancellationToken)).Instances)
            {
                if (load.MaxWatts > 0 && (whole || onNodes.Contains(load.InstanceId)))
                    loads.TryAdd(load.InstanceId, load);
            }
        }
        return [.. loads.Values];
    }

    /// <summary>Lifts the caps this domain set on <paramref name="instances"/>; one that cannot be reached is forgotten (it is gone).</summary>
    private async Task ReleaseAsync(List<string> instances, CancellationToken cancellationToken)
    {
        foreach (var id in instances)
        {
            try
            {
                if (_sent[id] is not null)
                    await GrainFactory.GetGrain<IInstanceGrain>(id).SetPowerCapAsync(this.GetPrimaryKeyString(), null, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCapFailed(logger, ex, id, _domain?.Name ?? this.GetPrimaryKeyString());
            }
            _sent.Remove(id);
        }
    }

    /// <summary>Whether the cap the instance reports keeps it within the domain's decision: none decided, or one at most as high.</summary>
    private static bool InForce(double? reported, double? decided) =>
        decided is not { } d || (reported is { } r && r <= d + 0.5);

    /// <summary>An instance's most important work: interactive or standard if it holds any, batch otherwise (idle included: capping it costs nothing).</summary>
    private static ServiceClass MostImportant(InstanceLoad load) => load.PriorityRequests > 0 ? ServiceClass.Interactive : ServiceClass.Batch;

    [LoggerMessage(1, LogLevel.Warning, "Setting the power cap of {InstanceId} in domain {Domain} failed; retrying next period")]
    private static partial void LogCapFailed(ILogger logger, Exception exception, string instanceId, string domain);

    [LoggerMessage(2, LogLevel.Warning, "Power domain {Domain} drew {Draw:0} W over its budget of {Budget:0} W: emergency brake")]
    private static partial void LogBrake(ILogger logger, string domain, double draw, double budget);

    [LoggerMessage(3, LogLevel.Information, "Power domain {Domain} stopped; {Caps} caps lifted")]
    private static partial void LogStopped(ILogger logger, string domain, int caps);
}
