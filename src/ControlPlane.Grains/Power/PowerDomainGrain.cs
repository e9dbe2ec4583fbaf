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
/// whose cap changed its new cap. Stays active while it runs.
/// </summary>
public sealed partial class PowerDomainGrain(IOptions<PowerConfig> options, TimeProvider time, ILogger<PowerDomainGrain> logger) : Grain, IPowerDomainGrain
{
    private readonly Dictionary<string, double?> _sent = new(StringComparer.Ordinal);
    private PowerController? _controller;
    private PowerDomainConfig? _domain;
    private IGrainTimer? _timer;
    private PowerDomainStatus? _status;

    public Task EnsureRunningAsync(CancellationToken cancellationToken = default)
    {
        if (_timer is not null)
            return Task.CompletedTask;
        var name = this.GetPrimaryKeyString();
        _domain = options.Value.Domains.FirstOrDefault(d => d.Name == name)
            ?? throw new InvalidOperationException($"power domain '{name}' is not in ControlPlane:Power:Domains");
        _controller = new PowerController(options.Value.Controller);
        var period = TimeSpan.FromMilliseconds(_domain.PeriodMs);
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task<PowerDomainStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_status ?? new PowerDomainStatus { Domain = this.GetPrimaryKeyString(), BudgetWatts = _domain?.BudgetWatts ?? 0 });

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        var domain = _domain!;
        var loads = new List<InstanceLoad>();
        foreach (var model in domain.Models)
            loads.AddRange((await GrainFactory.GetGrain<ISchedulerGrain>(model).GetSnapshotAsync(cancellationToken)).Instances.Where(l => l.MaxWatts > 0));
        var decision = _controller!.Decide(domain.BudgetWatts, [.. loads.Select(l => new InstancePower(l.InstanceId, l.DrawWatts, l.MaxWatts, MostImportant(l)))]);
        foreach (var load in loads)
        {
            double? cap = decision.Caps.TryGetValue(load.InstanceId, out var c) ? c : null;
            if (_sent.TryGetValue(load.InstanceId, out var sent) && sent == cap)
                continue;
            try
            {
                await GrainFactory.GetGrain<IInstanceGrain>(load.InstanceId).SetPowerCapAsync(cap, cancellationToken);
                _sent[load.InstanceId] = cap;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCapFailed(logger, ex, load.InstanceId, domain.Name); // retried next period: _sent is unchanged
            }
        }
        if (decision.BrakeStarted)
            LogBrake(logger, domain.Name, decision.DrawWatts, domain.BudgetWatts);
        _status = new PowerDomainStatus
        {
            Domain = domain.Name,
            BudgetWatts = domain.BudgetWatts,
            DrawWatts = decision.DrawWatts,
            Level = decision.Level.ToString(),
            Caps = decision.Caps,
            Brakes = _controller.Brakes,
            Instances = loads.Count,
            UpdatedAt = time.GetUtcNow(),
        };
    }

    /// <summary>An instance's most important work: interactive or standard if it holds any, batch otherwise (idle included: capping it costs nothing).</summary>
    private static ServiceClass MostImportant(InstanceLoad load) => load.PriorityRequests > 0 ? ServiceClass.Interactive : ServiceClass.Batch;

    [LoggerMessage(1, LogLevel.Warning, "Setting the power cap of {InstanceId} in domain {Domain} failed; retrying next period")]
    private static partial void LogCapFailed(ILogger logger, Exception exception, string instanceId, string domain);

    [LoggerMessage(2, LogLevel.Warning, "Power domain {Domain} drew {Draw:0} W over its budget of {Budget:0} W: emergency brake")]
    private static partial void LogBrake(ILogger logger, string domain, double draw, double budget);
}
