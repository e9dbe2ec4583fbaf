using ControlPlane.Instances;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Simulation.Engine;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Autoscaling in the simulator: the scheduler's <see cref="AutoscalePlanner"/> on a period over the reported loads;
/// an instance it adds starts after <see cref="AutoscaleSimulationConfig.StartupMs"/> (a pod pulling and loading its
/// model), one it removes drains first (no new requests; it goes once empty, sooner where migration moves its requests
/// away). Requests that find no ready instance are held, as the gateway holds them while a pool scales from zero.
/// Counts instance time: from the start of a start to the end of a drain.
/// </summary>
public sealed record AutoscaleSimulationConfig
{
    public AutoscaleConfig Planner { get; init; } = new() { Enabled = true };
    public int MinReplicas { get; init; }
    public int MaxReplicas { get; init; } = 16;
    public int InitialReplicas { get; init; } = 1;

    /// <summary>From the decision to add an instance to its first request (pod start and model load).</summary>
    public double StartupMs { get; init; } = 60_000;

    /// <summary>The TTFT objective the planner holds the observed 90th percentile to (null: usage only).</summary>
    public double? SloTtftMs { get; init; }

    /// <summary>The TPOT objective the planner holds the observed 90th percentile to (null: usage only).</summary>
    public double? SloTpotMs { get; init; }
}

/// <summary>What autoscaling did: instance time, replicas over time, and the requests held while none was ready.</summary>
public sealed record AutoscaleReport(double InstanceHours, IReadOnlyList<(double AtMs, int Replicas)> Replicas, int Held, int Starts, int Drains);

internal sealed class AutoscaleSimulation
{
    private enum State { Off, Starting, Ready, Draining }

    private readonly AutoscaleSimulationConfig _config;
    private readonly SimulatedEngine[] _engines;
    private readonly State[] _state;
    private readonly double[] _onSince;
    private readonly AutoscalePlanner _planner;
    private readonly Queue<int> _held = new();
    private readonly LatencyWindow _latency = new(LatencyWindow.DefaultWindow);
    private readonly List<(double, int)> _replicas = [];
    private double _instanceMs;
    private int _heldTotal, _starts, _drains;

    public AutoscaleSimulation(AutoscaleSimulationConfig config, SimulatedEngine[] engines)
    {
        _config = config;
        _engines = engines;
        _state = new State[engines.Length];
        _onSince = new double[engines.Length];
        _planner = new AutoscalePlanner(config.Planner, config.MinReplicas, Math.Min(config.MaxReplicas, engines.Length));
        for (var i = 0; i < Math.Min(config.InitialReplicas, engines.Length); i++)
            _state[i] = State.Ready;
        _replicas.Add((0, Replicas));
    }

    public double PeriodMs => _config.Planner.Period.TotalMilliseconds;

    /// <summary>Instances that report (ready or draining).</summary>
    public bool Reports(int instance) => _state[instance] is State.Ready or State.Draining;

    public bool Draining(int instance) => _state[instance] == State.Draining;

    public bool AnyReady => _state.Contains(State.Ready);

    /// <summary>Instances started or starting: the pool's replicas.</summary>
    public int Replicas => _state.Count(s => s is State.Starting or State.Ready);

    /// <summary>A request that found no ready instance waits for one.</summary>
    public void Hold(int index)
    {
        _held.Enqueue(index);
        _heldTotal++;
    }

    /// <summary>The requests held so far, handed back to be dispatched now that an instance is ready.</summary>
    public List<int> Release()
    {
        var released = _held.ToList();
        _held.Clear();
        return released;
    }

    /// <summary>A request finished at <paramref name="now"/> (ms), with its TTFT and TPOT as a gateway measures them (NaN: none).</summary>
    public void Finished(double now, DateTimeOffset epoch, double ttftMs, double tpotMs) => _latency.Add(epoch.AddMilliseconds(now), ttftMs, tpotMs);

    /// <summary>A planning round: returns when each instance it starts is ready.</summary>
    public List<(double At, int Instance)> Tick(InstanceLoad[] reported, double now, DateTimeOffset epoch)
    {
        // The latencies of the last minute's finished requests, as the gateways report them to the scheduler's planner.
        var observed = _latency.Report(epoch.AddMilliseconds(now));
        var ready = reported.Where(l => l.Health == InstanceHealth.Ready).ToArray();
        var sample = new PoolSample(Replicas, ready, _held.Count,
            observed is null ? null : AutoscalePlanner.P90(observed.TimeToFirstToken), _config.SloTtftMs,
            observed is null ? null : AutoscalePlanner.P90(observed.TimePerOutputToken), _config.SloTpotMs);
        var desired = _planner.Plan(sample, epoch.AddMilliseconds(now));
        var started = new List<(double, int)>();
        var current = Replicas;
        for (var i = 0; i < _state.Length && current < desired; i++)
        {
            if (_state[i] != State.Draining)
                continue;
            _state[i] = State.Ready; // called back before it emptied
            current++;
        }
        for (var i = 0; i < _state.Length && current < desired; i++)
        {
            if (_state[i] != State.Off)
                continue;
            _state[i] = State.Starting;
            _onSince[i] = now;
            _starts++;
            current++;
            started.Add((now + _config.StartupMs, i));
        }
        if (current > desired)
        {
            // The least busy ready instances go; they drain first.
            var going = Enumerable.Range(0, _state.Length).Where(i => _state[i] == State.Ready)
                .OrderBy(i => _engines[i].Snapshot() is var s ? s.RunningRequests + s.WaitingRequests : 0).Take(current - desired).ToArray();
            foreach (var i in going)
            {
                _state[i] = State.Draining;
                _drains++;
                AfterStep(i, now);
            }
        }
        if (_replicas[^1].Item2 != Replicas)
            _replicas.Add((now, Replicas));
        return started;
    }

    /// <summary>An instance finished starting.</summary>
    public void Ready(int instance)
    {
        if (_state[instance] == State.Starting)
            _state[instance] = State.Ready;
    }

    /// <summary>After a step (or a drain order): a draining instance with nothing left goes.</summary>
    public void AfterStep(int instance, double now)
    {
        if (_state[instance] != State.Draining || _engines[instance].HasWork || _engines[instance].SuspendedRequests > 0)
            return;
        _state[instance] = State.Off;
        _instanceMs += now - _onSince[instance];
    }

    public AutoscaleReport Report(double end)
    {
        var ms = _instanceMs;
        for (var i = 0; i < _state.Length; i++)
        {
            if (_state[i] != State.Off)
                ms += end - _onSince[i];
        }
        return new AutoscaleReport(ms / 3_600_000, [.. _replicas], _heldTotal, _starts, _drains);
    }
}
