using ControlPlane.Requests;
using ControlPlane.Scheduling.Power;
using ControlPlane.Simulation.Engine;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// The power-domain grain's loop in virtual time: each period it reads every instance's mean draw (its steps'
/// modelled energy, idle draw for the rest), asks the same <see cref="PowerController"/> the grain runs, and
/// sets the caps on the instances' modelled actuators. An instance's most important work is the most important
/// class among the requests it holds.
/// </summary>
internal sealed class PowerDomainSimulation
{
    private readonly PowerSimulationConfig _config;
    private readonly SimulatedEngine[] _engines;
    private readonly string[] _ids;
    private readonly PowerController? _controller;
    private readonly int[,] _held;
    private double _energy;
    private double _peak;
    private int _periods, _breaches, _capped;

    public PowerDomainSimulation(PowerSimulationConfig config, SimulatedEngine[] engines, string[] ids)
    {
        if (engines.Any(e => e.Power is null))
            throw new ArgumentException("a power simulation needs a performance profile with a power model", nameof(engines));
        _config = config;
        _engines = engines;
        _ids = ids;
        _controller = config.Controller is { } c ? new PowerController(c) : null;
        _held = new int[engines.Length, 3];
    }

    public double PeriodMs => _config.PeriodMs;

    public void Placed(int instance, ServiceClass serviceClass) => _held[instance, (int)serviceClass]++;

    public void Ended(int instance, ServiceClass serviceClass) => _held[instance, (int)serviceClass]--;

    /// <summary>Closes a period: measures, decides, actuates.</summary>
    public void Tick()
    {
        var instances = new InstancePower[_engines.Length];
        double domain = 0;
        for (var i = 0; i < _engines.Length; i++)
        {
            var meter = _engines[i].Power!;
            var (joules, watts) = meter.Read(_config.PeriodMs);
            _energy += joules;
            domain += watts;
            instances[i] = new InstancePower(_ids[i], watts, meter.Model.MaxWatts, MostImportant(i));
        }
        _periods++;
        _peak = Math.Max(_peak, domain);
        if (domain > _config.BudgetWatts)
            _breaches++;
        if (_controller is null)
            return;
        var decision = _controller.Decide(_config.BudgetWatts, instances);
        if (decision.Caps.Count > 0)
            _capped++;
        for (var i = 0; i < _engines.Length; i++)
            _engines[i].Power!.CapWatts = decision.Caps.TryGetValue(_ids[i], out var cap) ? cap : null;
    }

    public PowerReport Report() => new(_energy, _config.BudgetWatts, _peak, _periods, _breaches, _controller?.Brakes ?? 0, _capped);

    private ServiceClass MostImportant(int instance)
    {
        for (var c = 0; c < 3; c++)
        {
            if (_held[instance, c] > 0)
                return (ServiceClass)c;
        }
        return ServiceClass.Batch; // idle: capping it costs nothing
    }
}
